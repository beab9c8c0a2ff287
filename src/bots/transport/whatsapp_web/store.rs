//! The `whatsapp-rust` storage `Backend` on our database: one tenant's
//! linked-device keys in `wa_device` and `wa_key`, through sea-orm, the same
//! on SQLite and PostgreSQL.
//!
//! Owns: every read and write of those two tables, `wipe`, and sealing the
//! rows written before sealing existed (`seal_unsealed_rows`, at start).
//! Must not: hold state in memory (the crate caches in front of us and a
//! session must be able to move between processes), log key material,
//! store it in the clear, or touch another tenant's rows — every query is
//! filtered by the tenant it was built for.
//!
//! Sealing: `wa_key.value` and `wa_device.data` are full account access, so
//! they are sealed with the master key like the Cloud API credentials
//! (`MasterKey::seal`, AES-256-GCM), their associated data binding each to
//! its tenant and row (`wa_key/<tenant>/["kind","key1","key2","key3"]`,
//! `wa_device/<tenant>/data`): a value copied to another tenant or another
//! row does not open. The key columns stay in the clear (they are looked
//! up), and so do `n1`/`n2` (ids and times). A row with `sealed = false`
//! is refused: only rows from before sealing are, and the start seals them.
//!
//! `wa_key` layout, per kind (unused key columns hold ""):
//!
//! | kind                | key1        | key2          | key3   | value              | n1              | n2               |
//! |---------------------|-------------|---------------|--------|--------------------|-----------------|------------------|
//! | `identity`          | address     |               |        | 32-byte key        |                 |                  |
//! | `session`           | address     |               |        | session record     |                 |                  |
//! | `prekey`            | id          |               |        | record             | id              | uploaded (0/1)   |
//! | `signed_prekey`     | id          |               |        | record             | id              |                  |
//! | `sender_key`        | address     |               |        | record             |                 |                  |
//! | `sync_key`          | hex key id  |               |        | JSON key           | write sequence  |                  |
//! | `app_version`       | collection  |               |        | JSON hash state    |                 |                  |
//! | `mutation_mac`      | collection  | hex index MAC |        | value MAC          | version         |                  |
//! | `sender_key_device` | group       | device JID    |        |                    | has key (0/1)   |                  |
//! | `lid_mapping`       | LID         | phone         |        | JSON entry         | updated at      |                  |
//! | `base_key`          | address     | message id    |        | base key           |                 |                  |
//! | `device_list`       | user        |               |        | JSON record        |                 |                  |
//! | `group_metadata`    | group       |               |        | blob               |                 |                  |
//! | `tc_token`          | JID         |               |        | token              | token timestamp | sender timestamp |
//! | `sent_message`      | chat        | message id    |        | payload            | stored at       |                  |
//! | `pending_inbound`   | chat        | sender        | id     | message            | stored at       |                  |
//! | `msg_secret`        | chat        | sender        | msg id | 32-byte secret     | expires at      | message time     |
//!
//! Read-modify-write operations run in a transaction; the crate drives one
//! tenant's store from one client, so they do not race each other.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use entity::{wa_device, wa_key};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::error::{Result, StoreError};

use crate::crypto::{self, MasterKey, UnsealError};
use crate::domain::ids::TenantId;
use whatsapp_rust::wacore::store::traits::{
    AppStateSyncKey, AppSyncStore, DeviceListRecord, DeviceStore, LidPnMappingEntry,
    MsgSecretEntry, MsgSecretStore, ProtocolStore, SignalStore, TcTokenEntry,
    merge_msg_secret_expiry, merge_msg_secret_message_ts,
};

const IDENTITY: &str = "identity";
const SESSION: &str = "session";
const PREKEY: &str = "prekey";
const SIGNED_PREKEY: &str = "signed_prekey";
const SENDER_KEY: &str = "sender_key";
const SYNC_KEY: &str = "sync_key";
const APP_VERSION: &str = "app_version";
const MUTATION_MAC: &str = "mutation_mac";
const SENDER_KEY_DEVICE: &str = "sender_key_device";
const LID_MAPPING: &str = "lid_mapping";
const BASE_KEY: &str = "base_key";
const DEVICE_LIST: &str = "device_list";
const GROUP_METADATA: &str = "group_metadata";
const TC_TOKEN: &str = "tc_token";
const SENT_MESSAGE: &str = "sent_message";
const PENDING_INBOUND: &str = "pending_inbound";
const MSG_SECRET: &str = "msg_secret";

/// Rows per multi-row INSERT: 8 columns each stays far below SQLite's
/// bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// The one device id of a tenant's store (the crate supports several
/// devices per store; we keep one store per tenant instead).
const DEVICE_ID: i32 = 1;

/// One tenant's WhatsApp Web keys. Cheap to clone.
#[derive(Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    key: MasterKey,
    tenant: TenantId,
}

/// Deletes every key of `tenant` (after a logout, or when the tenant leaves
/// WhatsApp Web): the next start links from scratch.
pub async fn wipe(db: &DatabaseConnection, tenant: TenantId) -> std::result::Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    wa_key::Entity::delete_many()
        .filter(wa_key::Column::TenantId.eq(tenant))
        .exec(&txn)
        .await?;
    wa_device::Entity::delete_many()
        .filter(wa_device::Column::TenantId.eq(tenant))
        .exec(&txn)
        .await?;
    txn.commit().await
}

fn db_err(err: DbErr) -> StoreError {
    StoreError::Database(Box::new(err))
}

/// Where a `wa_key` row's value is sealed for: its tenant, kind and keys
/// (a JSON array: unambiguous whatever the keys hold).
fn key_place(tenant: TenantId, kind: &str, key: [&str; 3]) -> Vec<u8> {
    let field = serde_json::json!([kind, key[0], key[1], key[2]]).to_string();
    crypto::place("wa_key", tenant, &field)
}

/// Where a tenant's `wa_device.data` is sealed for.
fn device_place(tenant: TenantId) -> Vec<u8> {
    crypto::place("wa_device", tenant, "data")
}

fn seal(key: &MasterKey, plaintext: &[u8], place: &[u8]) -> Result<Vec<u8>> {
    key.seal(plaintext, place)
        .map_err(|err| StoreError::Serialization(err.into()))
}

/// The plaintext of a sealed value; an unsealed row is refused (none is
/// left after the start's `seal_unsealed_rows`).
fn open(key: &MasterKey, sealed: bool, value: &[u8], place: &[u8]) -> Result<Vec<u8>> {
    if !sealed {
        return Err(StoreError::Validation(
            "a WhatsApp Web key is stored unsealed; restart Flow HQ to seal it".to_owned(),
        ));
    }
    key.open(value, place)
        .map_err(|err: UnsealError| StoreError::Serialization(Box::new(err)))
}

/// Seals every `wa_key` and `wa_device` row written before sealing existed
/// (all tenants), in batches, each row where it stands. Run at start,
/// before any bot: a migration cannot, it has no master key. Answers how
/// many rows it sealed; nothing to do costs one query per table.
pub async fn seal_unsealed_rows(
    db: &DatabaseConnection,
    key: &MasterKey,
) -> std::result::Result<u64, anyhow::Error> {
    const BATCH: u64 = 500;
    let mut sealed = 0;
    loop {
        let rows = wa_key::Entity::find()
            .filter(wa_key::Column::Sealed.eq(false))
            .limit(BATCH)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let txn = crate::db::begin_write(db).await?;
        for row in rows {
            let tenant = TenantId::from(row.tenant_id);
            let place = key_place(tenant, &row.kind, [&row.key1, &row.key2, &row.key3]);
            let value = key.seal(&row.value, &place)?;
            wa_key::Entity::update_many()
                .col_expr(wa_key::Column::Value, Expr::value(value))
                .col_expr(wa_key::Column::Sealed, Expr::value(true))
                .filter(wa_key::Column::TenantId.eq(row.tenant_id))
                .filter(wa_key::Column::Kind.eq(row.kind))
                .filter(wa_key::Column::Key1.eq(row.key1))
                .filter(wa_key::Column::Key2.eq(row.key2))
                .filter(wa_key::Column::Key3.eq(row.key3))
                .filter(wa_key::Column::Sealed.eq(false))
                .exec(&txn)
                .await?;
            sealed += 1;
        }
        txn.commit().await?;
    }
    let devices = wa_device::Entity::find()
        .filter(wa_device::Column::Sealed.eq(false))
        .all(db)
        .await?;
    for row in devices {
        let data = key.seal(&row.data, &device_place(row.tenant_id.into()))?;
        crate::db::write_alone(
            db,
            wa_device::Entity::update_many()
                .col_expr(wa_device::Column::Data, Expr::value(data))
                .col_expr(wa_device::Column::Sealed, Expr::value(true))
                .filter(wa_device::Column::TenantId.eq(row.tenant_id))
                .filter(wa_device::Column::Sealed.eq(false))
                .exec(db),
        )
        .await?;
        sealed += 1;
    }
    Ok(sealed)
}

fn ser_err(err: serde_json::Error) -> StoreError {
    StoreError::Serialization(Box::new(err))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(ser_err)
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(ser_err)
}

fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// A row to write; unset numbers stay NULL.
struct Row<'a> {
    kind: &'static str,
    key: [&'a str; 3],
    value: Vec<u8>,
    n1: Option<i64>,
    n2: Option<i64>,
}

impl<'a> Row<'a> {
    fn new(kind: &'static str, key1: &'a str, value: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            key: [key1, "", ""],
            value: value.into(),
            n1: None,
            n2: None,
        }
    }

    fn key2(mut self, key2: &'a str) -> Self {
        self.key[1] = key2;
        self
    }

    fn key3(mut self, key3: &'a str) -> Self {
        self.key[2] = key3;
        self
    }

    fn n1(mut self, n1: i64) -> Self {
        self.n1 = Some(n1);
        self
    }

    fn n2(mut self, n2: Option<i64>) -> Self {
        self.n2 = n2;
        self
    }
}

impl SeaOrmStore {
    pub fn new(db: DatabaseConnection, key: MasterKey, tenant: TenantId) -> Self {
        Self { db, key, tenant }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// This tenant's rows of one kind.
    fn kind(&self, kind: &'static str) -> sea_orm::Select<wa_key::Entity> {
        wa_key::Entity::find()
            .filter(wa_key::Column::TenantId.eq(self.tenant))
            .filter(wa_key::Column::Kind.eq(kind))
    }

    fn delete_kind(&self, kind: &'static str) -> sea_orm::DeleteMany<wa_key::Entity> {
        wa_key::Entity::delete_many()
            .filter(wa_key::Column::TenantId.eq(self.tenant))
            .filter(wa_key::Column::Kind.eq(kind))
    }

    fn model(&self, row: Row<'_>) -> Result<wa_key::ActiveModel> {
        let place = key_place(self.tenant, row.kind, row.key);
        Ok(wa_key::ActiveModel {
            tenant_id: Set(self.tenant.into()),
            kind: Set(row.kind.to_owned()),
            key1: Set(row.key[0].to_owned()),
            key2: Set(row.key[1].to_owned()),
            key3: Set(row.key[2].to_owned()),
            value: Set(seal(&self.key, &row.value, &place)?),
            n1: Set(row.n1),
            n2: Set(row.n2),
            sealed: Set(true),
        })
    }

    /// The row with its value opened (see the module docs).
    fn opened(&self, mut row: wa_key::Model) -> Result<wa_key::Model> {
        let place = key_place(self.tenant, &row.kind, [&row.key1, &row.key2, &row.key3]);
        row.value = open(&self.key, row.sealed, &row.value, &place)?;
        Ok(row)
    }

    /// `opened` for each row.
    fn all_opened(&self, rows: Vec<wa_key::Model>) -> Result<Vec<wa_key::Model>> {
        rows.into_iter().map(|row| self.opened(row)).collect()
    }

    /// Inserts or replaces rows (by tenant, kind and keys).
    async fn upsert_on<C: ConnectionTrait>(&self, conn: &C, rows: Vec<Row<'_>>) -> Result<()> {
        let mut models: Vec<wa_key::ActiveModel> = Vec::with_capacity(rows.len());
        for row in rows {
            models.push(self.model(row)?);
        }
        while !models.is_empty() {
            let rest = models.split_off(models.len().min(INSERT_CHUNK));
            let chunk = std::mem::replace(&mut models, rest);
            wa_key::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([
                        wa_key::Column::TenantId,
                        wa_key::Column::Kind,
                        wa_key::Column::Key1,
                        wa_key::Column::Key2,
                        wa_key::Column::Key3,
                    ])
                    .update_columns([
                        wa_key::Column::Value,
                        wa_key::Column::N1,
                        wa_key::Column::N2,
                        wa_key::Column::Sealed,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(conn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Runs `delete` on its own, in its turn at the database's write queue
    /// (`db::write_alone`); answers how many rows it removed.
    async fn delete_rows(&self, delete: sea_orm::DeleteMany<wa_key::Entity>) -> Result<u64> {
        crate::db::write_alone(&self.db, delete.exec(&self.db))
            .await
            .map(|done| done.rows_affected)
            .map_err(db_err)
    }

    /// `upsert_on` in its turn at the database's write queue: one statement
    /// on its own, several in one transaction.
    async fn upsert(&self, rows: Vec<Row<'_>>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if rows.len() <= INSERT_CHUNK {
            let one = async { Ok::<_, DbErr>(self.upsert_on(&self.db, rows).await) };
            return crate::db::write_alone(&self.db, one)
                .await
                .map_err(db_err)?;
        }
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        self.upsert_on(&txn, rows).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get(&self, kind: &'static str, key: [&str; 3]) -> Result<Option<wa_key::Model>> {
        self.kind(kind)
            .filter(wa_key::Column::Key1.eq(key[0]))
            .filter(wa_key::Column::Key2.eq(key[1]))
            .filter(wa_key::Column::Key3.eq(key[2]))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(|row| self.opened(row))
            .transpose()
    }

    async fn value(&self, kind: &'static str, key1: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get(kind, [key1, "", ""]).await?.map(|row| row.value))
    }

    async fn delete(&self, kind: &'static str, key: [&str; 3]) -> Result<()> {
        self.delete_rows(
            self.delete_kind(kind)
                .filter(wa_key::Column::Key1.eq(key[0]))
                .filter(wa_key::Column::Key2.eq(key[1]))
                .filter(wa_key::Column::Key3.eq(key[2])),
        )
        .await?;
        Ok(())
    }

    /// Deletes rows of a kind with `n1` below `cutoff`; how many.
    async fn delete_older(&self, kind: &'static str, cutoff: i64) -> Result<u32> {
        let removed = self
            .delete_rows(self.delete_kind(kind).filter(wa_key::Column::N1.lt(cutoff)))
            .await?;
        Ok(u32::try_from(removed).unwrap_or(u32::MAX))
    }
}

fn id_key(id: u32) -> String {
    id.to_string()
}

fn u32_of(n: Option<i64>) -> Result<u32> {
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| StoreError::Validation(format!("bad key id {n:?}")))
}

#[async_trait]
impl SignalStore for SeaOrmStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.upsert(vec![Row::new(IDENTITY, address, key.to_vec())])
            .await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows = identities
            .iter()
            .map(|(address, key)| Row::new(IDENTITY, address, key.to_vec()))
            .collect();
        self.upsert(rows).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        self.value(IDENTITY, address)
            .await?
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    StoreError::Validation(format!("identity key of {} bytes", bytes.len()))
                })
            })
            .transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.delete(IDENTITY, [address, "", ""]).await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        Ok(self.value(SESSION, address).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.upsert(vec![Row::new(SESSION, address, session)]).await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sessions
            .iter()
            .map(|(address, session)| Row::new(SESSION, address, session.to_vec()))
            .collect();
        self.upsert(rows).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.delete(SESSION, [address, "", ""]).await
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses are `user@server` or `user:device@server`. LIKE narrows,
        // the exact check in Rust decides (LIKE treats `_` as a wildcard).
        let addresses: Vec<String> = wa_key::Entity::find()
            .select_only()
            .column(wa_key::Column::Key1)
            .filter(wa_key::Column::TenantId.eq(self.tenant))
            .filter(wa_key::Column::Kind.is_in([SESSION, IDENTITY]))
            .filter(wa_key::Column::Key1.starts_with(user))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_err)?;
        Ok(addresses.iter().any(|address| {
            address
                .strip_prefix(user)
                .is_some_and(|rest| rest.starts_with('@') || rest.starts_with(':'))
        }))
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        let key = id_key(id);
        self.upsert(vec![
            Row::new(PREKEY, &key, record)
                .n1(i64::from(id))
                .n2(Some(i64::from(uploaded))),
        ])
        .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        let ids: Vec<String> = keys.iter().map(|(id, _)| id_key(*id)).collect();
        let rows = keys
            .iter()
            .zip(&ids)
            .map(|((id, record), key)| {
                Row::new(PREKEY, key, record.to_vec())
                    .n1(i64::from(*id))
                    .n2(Some(i64::from(uploaded)))
            })
            .collect();
        self.upsert(rows).await
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        Ok(self.value(PREKEY, &id_key(id)).await?.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .kind(PREKEY)
            .filter(wa_key::Column::N1.is_in(ids.iter().map(|id| i64::from(*id))))
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let mut by_id: HashMap<u32, Bytes> = HashMap::with_capacity(rows.len());
        for row in self.all_opened(rows)? {
            by_id.insert(u32_of(row.n1)?, Bytes::from(row.value));
        }
        // In the order asked for, like the trait's default.
        Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(id).map(|record| (*id, record)))
            .collect())
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // UPDATE, never an upsert: a key consumed meanwhile stays deleted.
        crate::db::write_alone(
            &self.db,
            wa_key::Entity::update_many()
                .col_expr(wa_key::Column::N2, Expr::value(1i64))
                .filter(wa_key::Column::TenantId.eq(self.tenant))
                .filter(wa_key::Column::Kind.eq(PREKEY))
                .filter(wa_key::Column::N1.is_in(ids.iter().map(|id| i64::from(*id))))
                .exec(&self.db),
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        self.delete(PREKEY, [&id_key(id), "", ""]).await
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let max: Option<Option<i64>> = self
            .kind(PREKEY)
            .select_only()
            .expr(wa_key::Column::N1.max())
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(db_err)?;
        match max.flatten() {
            None => Ok(0),
            some => u32_of(some),
        }
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        let key = id_key(id);
        self.upsert(vec![
            Row::new(SIGNED_PREKEY, &key, record).n1(i64::from(id)),
        ])
        .await
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        self.value(SIGNED_PREKEY, &id_key(id)).await
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = self
            .kind(SIGNED_PREKEY)
            .order_by_asc(wa_key::Column::N1)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        self.all_opened(rows)?
            .into_iter()
            .map(|row| Ok((u32_of(row.n1)?, row.value)))
            .collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        self.delete(SIGNED_PREKEY, [&id_key(id), "", ""]).await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.upsert(vec![Row::new(SENDER_KEY, address, record)])
            .await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sender_keys
            .iter()
            .map(|(address, record)| Row::new(SENDER_KEY, address, record.to_vec()))
            .collect();
        self.upsert(rows).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.value(SENDER_KEY, address).await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.delete(SENDER_KEY, [address, "", ""]).await
    }
}

#[async_trait]
impl AppSyncStore for SeaOrmStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        self.value(SYNC_KEY, &hex::encode(key_id))
            .await?
            .map(|bytes| from_json(&bytes))
            .transpose()
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        // `n1` orders writes, for `get_latest_sync_key_id`.
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        let last: Option<Option<i64>> = self
            .kind(SYNC_KEY)
            .select_only()
            .expr(wa_key::Column::N1.max())
            .into_tuple()
            .one(&txn)
            .await
            .map_err(db_err)?;
        let next = last.flatten().unwrap_or(0) + 1;
        let id = hex::encode(key_id);
        self.upsert_on(&txn, vec![Row::new(SYNC_KEY, &id, to_json(&key)?).n1(next)])
            .await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        match self.value(APP_VERSION, name).await? {
            Some(bytes) => from_json(&bytes),
            None => Ok(HashState::default()),
        }
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        self.upsert(vec![Row::new(APP_VERSION, name, to_json(&state)?)])
            .await
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> Result<()> {
        let version = i64::try_from(version)
            .map_err(|_| StoreError::Validation(format!("app state version {version}")))?;
        let indexes: Vec<String> = mutations
            .iter()
            .map(|m| hex::encode(&m.index_mac))
            .collect();
        let rows = mutations
            .iter()
            .zip(&indexes)
            .map(|(m, index)| {
                Row::new(MUTATION_MAC, name, m.value_mac.clone())
                    .key2(index)
                    .n1(version)
            })
            .collect();
        self.upsert(rows).await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get(MUTATION_MAC, [name, &hex::encode(index_mac), ""])
            .await?
            .map(|row| row.value))
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        let mut out = HashMap::with_capacity(index_macs.len());
        for chunk in index_macs.chunks(INSERT_CHUNK) {
            let rows = self
                .kind(MUTATION_MAC)
                .filter(wa_key::Column::Key1.eq(name))
                .filter(wa_key::Column::Key2.is_in(chunk.iter().map(hex::encode)))
                .all(&self.db)
                .await
                .map_err(db_err)?;
            for row in self.all_opened(rows)? {
                let mut index = [0u8; 32];
                if hex::decode_to_slice(&row.key2, &mut index).is_ok() {
                    out.insert(index, row.value);
                }
            }
        }
        Ok(out)
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        for chunk in index_macs.chunks(INSERT_CHUNK) {
            self.delete_rows(
                self.delete_kind(MUTATION_MAC)
                    .filter(wa_key::Column::Key1.eq(name))
                    .filter(wa_key::Column::Key2.is_in(chunk.iter().map(hex::encode))),
            )
            .await?;
        }
        Ok(())
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.delete_rows(
            self.delete_kind(MUTATION_MAC)
                .filter(wa_key::Column::Key1.eq(name)),
        )
        .await?;
        Ok(())
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        let latest = self
            .kind(SYNC_KEY)
            .order_by_desc(wa_key::Column::N1)
            .one(&self.db)
            .await
            .map_err(db_err)?;
        latest
            .map(|row| {
                hex::decode(&row.key1).map_err(|err| StoreError::Serialization(Box::new(err)))
            })
            .transpose()
    }
}

#[async_trait]
impl ProtocolStore for SeaOrmStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        Ok(self
            .kind(SENDER_KEY_DEVICE)
            .filter(wa_key::Column::Key1.eq(group_jid))
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|row| (row.key2, row.n1 == Some(1)))
            .collect())
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        let rows = entries
            .iter()
            .map(|(device, has_key)| {
                Row::new(SENDER_KEY_DEVICE, group_jid, Vec::new())
                    .key2(device)
                    .n1(i64::from(*has_key))
            })
            .collect();
        self.upsert(rows).await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        self.delete_rows(
            self.delete_kind(SENDER_KEY_DEVICE)
                .filter(wa_key::Column::Key1.eq(group_jid)),
        )
        .await?;
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        for chunk in device_jids.chunks(INSERT_CHUNK) {
            self.delete_rows(
                self.delete_kind(SENDER_KEY_DEVICE)
                    .filter(wa_key::Column::Key2.is_in(chunk.iter().copied())),
            )
            .await?;
        }
        Ok(())
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.delete_rows(self.delete_kind(SENDER_KEY_DEVICE))
            .await?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let row = self
            .kind(LID_MAPPING)
            .filter(wa_key::Column::Key1.eq(lid))
            .one(&self.db)
            .await
            .map_err(db_err)?;
        row.map(|row| from_json(&self.opened(row)?.value))
            .transpose()
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let row = self
            .kind(LID_MAPPING)
            .filter(wa_key::Column::Key2.eq(phone))
            .order_by_desc(wa_key::Column::N1)
            .one(&self.db)
            .await
            .map_err(db_err)?;
        row.map(|row| from_json(&self.opened(row)?.value))
            .transpose()
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        // A LID maps to one phone: its old row goes (the phone is part of
        // the key, so an upsert alone would keep both).
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        for chunk in entries.chunks(INSERT_CHUNK) {
            self.delete_kind(LID_MAPPING)
                .filter(wa_key::Column::Key1.is_in(chunk.iter().map(|e| e.lid.as_str())))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        let mut latest: HashMap<&str, &LidPnMappingEntry> = HashMap::new();
        for entry in entries {
            latest.insert(&entry.lid, entry);
        }
        let mut rows = Vec::with_capacity(latest.len());
        for entry in latest.into_values() {
            rows.push(
                Row::new(LID_MAPPING, &entry.lid, to_json(entry)?)
                    .key2(&entry.phone_number)
                    .n1(entry.updated_at),
            );
        }
        self.upsert_on(&txn, rows).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows = self.kind(LID_MAPPING).all(&self.db).await.map_err(db_err)?;
        self.all_opened(rows)?
            .into_iter()
            .map(|row| from_json(&row.value))
            .collect()
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        self.upsert(vec![Row::new(BASE_KEY, address, base_key).key2(message_id)])
            .await
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        Ok(self
            .get(BASE_KEY, [address, message_id, ""])
            .await?
            .is_some_and(|row| row.value == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        self.delete(BASE_KEY, [address, message_id, ""]).await
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let mut rows = Vec::with_capacity(records.len());
        for record in &records {
            rows.push(Row::new(DEVICE_LIST, &record.user, to_json(record)?));
        }
        self.upsert(rows).await
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        self.value(DEVICE_LIST, user)
            .await?
            .map(|bytes| from_json(&bytes))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.delete(DEVICE_LIST, [user, "", ""]).await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        self.value(GROUP_METADATA, group_jid).await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        self.upsert(vec![Row::new(GROUP_METADATA, group_jid, blob)])
            .await
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.delete(GROUP_METADATA, [group_jid, "", ""]).await
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        Ok(self
            .get(TC_TOKEN, [jid, "", ""])
            .await?
            .map(|row| TcTokenEntry {
                token: row.value,
                token_timestamp: row.n1.unwrap_or(0),
                sender_timestamp: row.n2,
            }))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        self.upsert(vec![
            Row::new(TC_TOKEN, jid, entry.token.clone())
                .n1(entry.token_timestamp)
                .n2(entry.sender_timestamp),
        ])
        .await
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.delete(TC_TOKEN, [jid, "", ""]).await
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        self.kind(TC_TOKEN)
            .select_only()
            .column(wa_key::Column::Key1)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_err)
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        // A row goes only when both its received token and its sender
        // bucket are stale (see the trait). Decided here rather than in SQL:
        // "empty blob" reads differently on SQLite and PostgreSQL.
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        let rows = self.kind(TC_TOKEN).all(&txn).await.map_err(db_err)?;
        let stale: Vec<String> = self
            .all_opened(rows)?
            .into_iter()
            .filter(|row| {
                let token_live = !row.value.is_empty() && row.n1.unwrap_or(0) >= token_cutoff;
                let sender_live = row.n2.is_some_and(|ts| ts >= sender_cutoff);
                !(token_live || sender_live)
            })
            .map(|row| row.key1)
            .collect();
        for chunk in stale.chunks(INSERT_CHUNK) {
            self.delete_kind(TC_TOKEN)
                .filter(wa_key::Column::Key1.is_in(chunk.iter().map(String::as_str)))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(u32::try_from(stale.len()).unwrap_or(u32::MAX))
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<()> {
        self.upsert(vec![
            Row::new(SENT_MESSAGE, chat_jid, payload)
                .key2(message_id)
                .n1(now_secs()),
        ])
        .await
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        let row = self
            .kind(SENT_MESSAGE)
            .filter(wa_key::Column::Key1.eq(chat_jid))
            .filter(wa_key::Column::Key2.eq(message_id))
            .one(&txn)
            .await
            .map_err(db_err)?
            .map(|row| self.opened(row))
            .transpose()?;
        if row.is_some() {
            self.delete_kind(SENT_MESSAGE)
                .filter(wa_key::Column::Key1.eq(chat_jid))
                .filter(wa_key::Column::Key2.eq(message_id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(row.map(|row| row.value))
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.delete_older(SENT_MESSAGE, cutoff_timestamp).await
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> Result<()> {
        self.upsert(vec![
            Row::new(PENDING_INBOUND, chat, message)
                .key2(sender)
                .key3(id)
                .n1(now_secs()),
        ])
        .await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get(PENDING_INBOUND, [chat, sender, id])
            .await?
            .map(|row| row.value))
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.delete(PENDING_INBOUND, [chat, sender, id]).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.delete_older(PENDING_INBOUND, cutoff_timestamp).await
    }
}

#[async_trait]
impl MsgSecretStore for SeaOrmStore {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        // Merged with what is stored (later deadline and parent time win),
        // row by row: bots skip history sync, so batches stay small.
        let stored = entries.len();
        let txn = crate::db::begin_write(&self.db).await.map_err(db_err)?;
        for entry in &entries {
            let existing = self
                .kind(MSG_SECRET)
                .filter(wa_key::Column::Key1.eq(&*entry.chat))
                .filter(wa_key::Column::Key2.eq(&*entry.sender))
                .filter(wa_key::Column::Key3.eq(&*entry.msg_id))
                .one(&txn)
                .await
                .map_err(db_err)?;
            let (expires_at, message_ts) = match existing {
                Some(row) => (
                    merge_msg_secret_expiry(row.n1.unwrap_or(0), entry.expires_at),
                    merge_msg_secret_message_ts(row.n2.unwrap_or(0), entry.message_ts),
                ),
                None => (entry.expires_at, entry.message_ts),
            };
            self.upsert_on(
                &txn,
                vec![
                    Row::new(MSG_SECRET, &entry.chat, entry.secret.to_vec())
                        .key2(&entry.sender)
                        .key3(&entry.msg_id)
                        .n1(expires_at)
                        .n2(Some(message_ts)),
                ],
            )
            .await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get(MSG_SECRET, [chat, sender, msg_id])
            .await?
            .map(|row| row.value))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        Ok(self
            .get(MSG_SECRET, [chat, sender, msg_id])
            .await?
            .map(|row| (row.value, row.n2.unwrap_or(0))))
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        // 0 means "never expires".
        let removed = self
            .delete_rows(
                self.delete_kind(MSG_SECRET)
                    .filter(wa_key::Column::N1.ne(0))
                    .filter(wa_key::Column::N1.lte(cutoff_timestamp)),
            )
            .await?;
        Ok(u32::try_from(removed).unwrap_or(u32::MAX))
    }
}

#[async_trait]
impl DeviceStore for SeaOrmStore {
    async fn save(&self, device: &Device) -> Result<()> {
        let data = seal(&self.key, &to_json(device)?, &device_place(self.tenant))?;
        let row = wa_device::ActiveModel {
            tenant_id: Set(self.tenant.into()),
            data: Set(data),
            updated_at: Set(Utc::now()),
            sealed: Set(true),
        };
        crate::db::write_alone(
            &self.db,
            wa_device::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(wa_device::Column::TenantId)
                        .update_columns([
                            wa_device::Column::Data,
                            wa_device::Column::UpdatedAt,
                            wa_device::Column::Sealed,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&self.db),
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn load(&self) -> Result<Option<Device>> {
        wa_device::Entity::find_by_id(self.tenant)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(|row| {
                from_json(&open(
                    &self.key,
                    row.sealed,
                    &row.data,
                    &device_place(self.tenant),
                )?)
            })
            .transpose()
    }

    async fn exists(&self) -> Result<bool> {
        Ok(wa_device::Entity::find_by_id(self.tenant)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .is_some())
    }

    async fn create(&self) -> Result<i32> {
        // Like the crate's own stores: a fresh identity, saved at once so
        // `exists` holds from now on.
        if !self.exists().await? {
            self.save(&Device::new()).await?;
        }
        Ok(DEVICE_ID)
    }
}
