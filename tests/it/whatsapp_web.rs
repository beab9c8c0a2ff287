//! WhatsApp Web: the key store's contract (every operation of the crate's
//! storage `Backend` round-trips through our database, per tenant), and the
//! transport's behaviour without network access, through the real app.

use std::sync::Arc;

use flowhq::bots::transport::whatsapp_web::store::{SeaOrmStore, wipe};
use sea_orm::{EntityTrait, PaginatorTrait};
use uuid::Uuid;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::{
    AppStateSyncKey, AppSyncStore, DeviceInfo, DeviceListRecord, DeviceStore, LidPnMappingEntry,
    MsgSecretEntry, MsgSecretStore, ProtocolStore, SignalStore, TcTokenEntry,
};

use crate::helpers::{TestApp, spawn_app};

/// An app with two tenants, and a store for each.
async fn two_stores() -> (TestApp, SeaOrmStore, SeaOrmStore) {
    let app = spawn_app().await;
    let a = app.new_tenant(1).await;
    let b = app.new_tenant(2).await;
    let store_a = store_of(&app, a);
    let store_b = store_of(&app, b);
    (app, store_a, store_b)
}

/// The tenant's store, sealing with the app's master key.
fn store_of(app: &TestApp, tenant: Uuid) -> SeaOrmStore {
    SeaOrmStore::new(
        app.db().clone(),
        app.state.master_key.clone(),
        tenant.into(),
    )
}

async fn key_rows(app: &TestApp, tenant: Uuid) -> u64 {
    use sea_orm::{ColumnTrait, QueryFilter};
    let keys = entity::wa_key::Entity::find()
        .filter(entity::wa_key::Column::TenantId.eq(tenant))
        .count(app.db())
        .await
        .unwrap();
    let devices = entity::wa_device::Entity::find()
        .filter(entity::wa_device::Column::TenantId.eq(tenant))
        .count(app.db())
        .await
        .unwrap();
    keys + devices
}

/// Writes one of everything the Backend stores.
async fn fill(store: &SeaOrmStore) {
    store
        .put_identity("111@s.whatsapp.net", [1; 32])
        .await
        .unwrap();
    store
        .put_session("111@s.whatsapp.net", b"session")
        .await
        .unwrap();
    store.store_prekey(7, b"prekey", false).await.unwrap();
    store.store_signed_prekey(3, b"signed").await.unwrap();
    store.put_sender_key("group:111", b"sender").await.unwrap();
    store.set_sync_key(b"key-1", sync_key(1)).await.unwrap();
    store.set_version("regular", hash_state(5)).await.unwrap();
    store
        .put_mutation_macs("regular", 5, &[mac(1, 2)])
        .await
        .unwrap();
    store
        .set_sender_key_status("g@g.us", &[("111:1@s.whatsapp.net", true)])
        .await
        .unwrap();
    store.put_lid_mapping(&lid("900", "111", 10)).await.unwrap();
    store.save_base_key("111.1", "m1", b"base").await.unwrap();
    store.update_device_list(device_list("111")).await.unwrap();
    store.put_group_metadata("g@g.us", b"meta").await.unwrap();
    store
        .put_tc_token("900@lid", &tc(b"tok", 100, Some(100)))
        .await
        .unwrap();
    store
        .store_sent_message("111@s.whatsapp.net", "m1", b"payload")
        .await
        .unwrap();
    store
        .store_pending_inbound("111@s.whatsapp.net", "111@s.whatsapp.net", "i1", b"in")
        .await
        .unwrap();
    store
        .put_msg_secrets(vec![secret("c", "s", "m", 9, 0, 0)])
        .await
        .unwrap();
    store.save(&Device::new()).await.unwrap();
}

fn sync_key(n: u8) -> AppStateSyncKey {
    AppStateSyncKey {
        key_data: vec![n; 32],
        fingerprint: vec![n, n],
        timestamp: i64::from(n),
    }
}

fn hash_state(version: u64) -> HashState {
    let mut state = HashState {
        version,
        hash: [7; 128],
        ..HashState::default()
    };
    state
        .index_value_map
        .insert("index".to_owned(), vec![1, 2, 3]);
    state
}

fn mac(index: u8, value: u8) -> AppStateMutationMAC {
    AppStateMutationMAC {
        index_mac: vec![index; 32],
        value_mac: vec![value; 32],
    }
}

fn lid(lid: &str, phone: &str, at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.to_owned(),
        phone_number: phone.to_owned(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".to_owned(),
    }
}

fn device_list(user: &str) -> DeviceListRecord {
    DeviceListRecord {
        user: user.to_owned(),
        devices: vec![DeviceInfo::new(0, None), DeviceInfo::new(3, Some(2))],
        timestamp: 42,
        phash: Some("2:abc".to_owned()),
        raw_id: Some(9),
    }
}

fn tc(token: &[u8], token_timestamp: i64, sender_timestamp: Option<i64>) -> TcTokenEntry {
    TcTokenEntry {
        token: token.to_vec(),
        token_timestamp,
        sender_timestamp,
    }
}

fn secret(
    chat: &str,
    sender: &str,
    id: &str,
    byte: u8,
    expires_at: i64,
    ts: i64,
) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: Arc::from(chat),
        sender: Arc::from(sender),
        msg_id: Arc::from(id),
        secret: [byte; 32],
        expires_at,
        message_ts: ts,
    }
}

#[tokio::test]
async fn signal_keys_round_trip() {
    let (_app, store, _) = two_stores().await;

    assert_eq!(store.load_identity("a@s.whatsapp.net").await.unwrap(), None);
    store
        .put_identity("a@s.whatsapp.net", [1; 32])
        .await
        .unwrap();
    store
        .put_identity("a@s.whatsapp.net", [2; 32])
        .await
        .unwrap();
    store
        .put_identities_batch(&[(Arc::from("b:2@s.whatsapp.net"), [3; 32])])
        .await
        .unwrap();
    assert_eq!(
        store.load_identity("a@s.whatsapp.net").await.unwrap(),
        Some([2; 32])
    );
    assert_eq!(
        store.load_identity("b:2@s.whatsapp.net").await.unwrap(),
        Some([3; 32])
    );
    store.delete_identity("a@s.whatsapp.net").await.unwrap();
    assert_eq!(store.load_identity("a@s.whatsapp.net").await.unwrap(), None);

    assert!(!store.has_session("c@s.whatsapp.net").await.unwrap());
    store.put_session("c@s.whatsapp.net", b"one").await.unwrap();
    store
        .put_sessions_batch(&[
            (Arc::from("c@s.whatsapp.net"), Bytes::from_static(b"two")),
            (Arc::from("d:5@lid"), Bytes::from_static(b"three")),
        ])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_session("c@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"two"[..])
    );
    assert!(store.has_session("d:5@lid").await.unwrap());
    store.delete_session("c@s.whatsapp.net").await.unwrap();
    assert_eq!(store.get_session("c@s.whatsapp.net").await.unwrap(), None);

    // By user, across devices, never by a longer user with the same prefix.
    assert!(store.has_signal_state_for_user("d").await.unwrap());
    assert!(store.has_signal_state_for_user("b").await.unwrap());
    assert!(!store.has_signal_state_for_user("c").await.unwrap());
    store
        .put_session("12345@s.whatsapp.net", b"x")
        .await
        .unwrap();
    assert!(!store.has_signal_state_for_user("1234").await.unwrap());
    assert!(!store.has_signal_state_for_user("1_345").await.unwrap());

    assert_eq!(store.get_max_prekey_id().await.unwrap(), 0);
    store.store_prekey(5, b"five", false).await.unwrap();
    store
        .store_prekeys_batch(
            &[
                (6, Bytes::from_static(b"six")),
                (10, Bytes::from_static(b"ten")),
            ],
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        store.load_prekey(5).await.unwrap().as_deref(),
        Some(&b"five"[..])
    );
    assert_eq!(store.get_max_prekey_id().await.unwrap(), 10);
    let batch = store.load_prekeys_batch(&[10, 99, 5]).await.unwrap();
    assert_eq!(
        batch,
        vec![
            (10, Bytes::from_static(b"ten")),
            (5, Bytes::from_static(b"five"))
        ]
    );
    store.remove_prekey(10).await.unwrap();
    // Marking never brings a removed key back.
    store.mark_prekeys_uploaded(&[5, 10]).await.unwrap();
    assert_eq!(store.load_prekey(10).await.unwrap(), None);
    assert_eq!(store.get_max_prekey_id().await.unwrap(), 6);

    store.store_signed_prekey(2, b"two").await.unwrap();
    store.store_signed_prekey(1, b"one").await.unwrap();
    assert_eq!(
        store.load_signed_prekey(2).await.unwrap(),
        Some(b"two".to_vec())
    );
    assert_eq!(
        store.load_all_signed_prekeys().await.unwrap(),
        vec![(1, b"one".to_vec()), (2, b"two".to_vec())]
    );
    store.remove_signed_prekey(1).await.unwrap();
    assert_eq!(store.load_signed_prekey(1).await.unwrap(), None);

    store.put_sender_key("g1", b"k1").await.unwrap();
    store
        .put_sender_keys_batch(&[(Arc::from("g2"), Bytes::from_static(b"k2"))])
        .await
        .unwrap();
    assert_eq!(
        store.get_sender_key("g1").await.unwrap(),
        Some(b"k1".to_vec())
    );
    assert_eq!(
        store.get_sender_key("g2").await.unwrap(),
        Some(b"k2".to_vec())
    );
    store.delete_sender_key("g1").await.unwrap();
    assert_eq!(store.get_sender_key("g1").await.unwrap(), None);
}

#[tokio::test]
async fn app_state_keys_round_trip() {
    let (_app, store, _) = two_stores().await;

    assert_eq!(store.get_latest_sync_key_id().await.unwrap(), None);
    store.set_sync_key(b"first", sync_key(1)).await.unwrap();
    store.set_sync_key(b"second", sync_key(2)).await.unwrap();
    let key = store.get_sync_key(b"first").await.unwrap().unwrap();
    assert_eq!(key.key_data, vec![1; 32]);
    assert_eq!(key.fingerprint, vec![1, 1]);
    assert_eq!(
        store.get_latest_sync_key_id().await.unwrap(),
        Some(b"second".to_vec())
    );
    // Written again, the first is the latest.
    store.set_sync_key(b"first", sync_key(3)).await.unwrap();
    assert_eq!(
        store.get_latest_sync_key_id().await.unwrap(),
        Some(b"first".to_vec())
    );

    assert_eq!(store.get_version("regular").await.unwrap().version, 0);
    store.set_version("regular", hash_state(4)).await.unwrap();
    let state = store.get_version("regular").await.unwrap();
    assert_eq!(state.version, 4);
    assert_eq!(state.hash, [7; 128]);
    assert_eq!(state.index_value_map["index"], vec![1, 2, 3]);

    store
        .put_mutation_macs("regular", 4, &[mac(1, 10), mac(2, 20)])
        .await
        .unwrap();
    store
        .put_mutation_macs("other", 4, &[mac(1, 30)])
        .await
        .unwrap();
    assert_eq!(
        store.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        Some(vec![10; 32])
    );
    let macs = store
        .get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]])
        .await
        .unwrap();
    assert_eq!(macs.len(), 2);
    assert_eq!(macs[&[2; 32]], vec![20; 32]);
    store
        .delete_mutation_macs("regular", &[vec![1; 32]])
        .await
        .unwrap();
    assert_eq!(
        store.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        None
    );
    store.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(
        store.get_mutation_mac("regular", &[2; 32]).await.unwrap(),
        None
    );
    assert_eq!(
        store.get_mutation_mac("other", &[1; 32]).await.unwrap(),
        Some(vec![30; 32]),
        "clearing one collection leaves the others"
    );
}

#[tokio::test]
async fn protocol_state_round_trips() {
    let (_app, store, _) = two_stores().await;

    store
        .set_sender_key_status("g1", &[("d1", true), ("d2", false)])
        .await
        .unwrap();
    store
        .set_sender_key_status("g2", &[("d1", true)])
        .await
        .unwrap();
    store
        .set_sender_key_status("g1", &[("d2", true)])
        .await
        .unwrap();
    let mut devices = store.get_sender_key_devices("g1").await.unwrap();
    devices.sort();
    assert_eq!(
        devices,
        vec![("d1".to_owned(), true), ("d2".to_owned(), true)]
    );
    store.delete_sender_key_device_rows(&["d1"]).await.unwrap();
    assert_eq!(store.get_sender_key_devices("g1").await.unwrap().len(), 1);
    assert!(store.get_sender_key_devices("g2").await.unwrap().is_empty());
    store.clear_sender_key_devices("g1").await.unwrap();
    assert!(store.get_sender_key_devices("g1").await.unwrap().is_empty());
    store
        .set_sender_key_status("g3", &[("d3", false)])
        .await
        .unwrap();
    store.clear_all_sender_key_devices().await.unwrap();
    assert!(store.get_sender_key_devices("g3").await.unwrap().is_empty());

    store.put_lid_mapping(&lid("900", "111", 10)).await.unwrap();
    store
        .put_lid_mappings(&[lid("901", "222", 11), lid("902", "111", 12)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_lid_mapping("900")
            .await
            .unwrap()
            .unwrap()
            .phone_number,
        "111"
    );
    assert_eq!(
        store.get_pn_mapping("111").await.unwrap().unwrap().lid,
        "902"
    );
    // A LID that moves to another number leaves its old number.
    store.put_lid_mapping(&lid("901", "333", 13)).await.unwrap();
    assert_eq!(
        store.get_pn_mapping("222").await.unwrap().map(|e| e.lid),
        None
    );
    assert_eq!(
        store.get_pn_mapping("333").await.unwrap().unwrap().lid,
        "901"
    );
    assert_eq!(store.get_all_lid_mappings().await.unwrap().len(), 3);

    store.save_base_key("addr", "m1", b"base").await.unwrap();
    assert!(
        store
            .has_same_base_key("addr", "m1", b"base")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_same_base_key("addr", "m1", b"other")
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_same_base_key("addr", "m2", b"base")
            .await
            .unwrap()
    );
    store.delete_base_key("addr", "m1").await.unwrap();
    assert!(
        !store
            .has_same_base_key("addr", "m1", b"base")
            .await
            .unwrap()
    );

    store.update_device_list(device_list("111")).await.unwrap();
    store
        .update_device_lists(vec![device_list("222"), device_list("333")])
        .await
        .unwrap();
    let record = store.get_devices("222").await.unwrap().unwrap();
    assert_eq!(record.devices.len(), 2);
    assert_eq!(record.devices[1].key_index, Some(2));
    assert_eq!(record.phash.as_deref(), Some("2:abc"));
    assert_eq!(record.raw_id, Some(9));
    store.delete_devices("222").await.unwrap();
    assert!(store.get_devices("222").await.unwrap().is_none());

    store.put_group_metadata("g@g.us", b"meta").await.unwrap();
    assert_eq!(
        store.get_group_metadata("g@g.us").await.unwrap(),
        Some(b"meta".to_vec())
    );
    store.delete_group_metadata("g@g.us").await.unwrap();
    assert_eq!(store.get_group_metadata("g@g.us").await.unwrap(), None);

    store
        .put_tc_token("a@lid", &tc(b"tok", 100, None))
        .await
        .unwrap();
    store
        .put_tc_token("b@lid", &tc(b"", 50, Some(200)))
        .await
        .unwrap();
    store
        .put_tc_token("c@lid", &tc(b"old", 10, Some(20)))
        .await
        .unwrap();
    let a = store.get_tc_token("a@lid").await.unwrap().unwrap();
    assert_eq!(
        (a.token, a.token_timestamp, a.sender_timestamp),
        (b"tok".to_vec(), 100, None)
    );
    let mut jids = store.get_all_tc_token_jids().await.unwrap();
    jids.sort();
    assert_eq!(jids, ["a@lid", "b@lid", "c@lid"]);
    // The sender bucket only moves forward; a received token keeps it.
    store
        .touch_tc_token_sender_timestamp("b@lid", 150)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_tc_token("b@lid")
            .await
            .unwrap()
            .unwrap()
            .sender_timestamp,
        Some(200)
    );
    store
        .store_received_tc_token("b@lid", b"new", 300)
        .await
        .unwrap();
    let b = store.get_tc_token("b@lid").await.unwrap().unwrap();
    assert_eq!((b.token, b.sender_timestamp), (b"new".to_vec(), Some(200)));
    // c: both stale; a: token live; b: both live.
    assert_eq!(store.delete_expired_tc_tokens(90, 100).await.unwrap(), 1);
    assert!(store.get_tc_token("c@lid").await.unwrap().is_none());
    store.delete_tc_token("a@lid").await.unwrap();
    assert!(store.get_tc_token("a@lid").await.unwrap().is_none());

    store
        .store_sent_message("chat", "m1", b"payload")
        .await
        .unwrap();
    assert_eq!(
        store.take_sent_message("chat", "m1").await.unwrap(),
        Some(b"payload".to_vec())
    );
    assert_eq!(
        store.take_sent_message("chat", "m1").await.unwrap(),
        None,
        "taken once"
    );
    store.store_sent_message("chat", "m2", b"p2").await.unwrap();
    assert_eq!(store.delete_expired_sent_messages(0).await.unwrap(), 0);
    let tomorrow = chrono::Utc::now().timestamp() + 86_400;
    assert_eq!(
        store.delete_expired_sent_messages(tomorrow).await.unwrap(),
        1
    );

    store
        .store_pending_inbound("chat", "sender", "i1", b"msg")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_pending_inbound("chat", "sender", "i1")
            .await
            .unwrap(),
        Some(b"msg".to_vec())
    );
    assert_eq!(
        store
            .get_pending_inbound("chat", "other", "i1")
            .await
            .unwrap(),
        None
    );
    store
        .delete_pending_inbound("chat", "sender", "i1")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_pending_inbound("chat", "sender", "i1")
            .await
            .unwrap(),
        None
    );
    store
        .store_pending_inbound("chat", "sender", "i2", b"msg")
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_expired_pending_inbound(tomorrow)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn message_secrets_round_trip_and_merge() {
    let (_app, store, _) = two_stores().await;

    assert_eq!(store.get_msg_secret("c", "s", "m").await.unwrap(), None);
    store.put_msg_secret("c", "s", "m", &[1; 32]).await.unwrap();
    assert_eq!(
        store.get_msg_secret("c", "s", "m").await.unwrap(),
        Some(vec![1; 32])
    );
    assert_eq!(store.get_msg_secret("c", "other", "m").await.unwrap(), None);

    let stored = store
        .put_msg_secrets(vec![
            secret("c", "s", "x", 2, 100, 50),
            secret("c", "s", "y", 3, 100, 0),
        ])
        .await
        .unwrap();
    assert_eq!(stored, 2);
    // A later deadline and a known parent time win; 0 never clobbers.
    store
        .put_msg_secrets(vec![
            secret("c", "s", "x", 4, 200, 0),
            secret("c", "s", "y", 5, 50, 70),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.get_msg_secret_with_ts("c", "s", "x").await.unwrap(),
        Some((vec![4; 32], 50))
    );
    assert_eq!(
        store.get_msg_secret_with_ts("c", "s", "y").await.unwrap(),
        Some((vec![5; 32], 70))
    );

    // y expires at 100, x at 200, m never.
    assert_eq!(store.delete_expired_msg_secrets(150).await.unwrap(), 1);
    assert!(store.get_msg_secret("c", "s", "y").await.unwrap().is_none());
    assert!(store.get_msg_secret("c", "s", "x").await.unwrap().is_some());
    assert!(store.get_msg_secret("c", "s", "m").await.unwrap().is_some());
}

#[tokio::test]
async fn the_device_round_trips() {
    let (_app, store, _) = two_stores().await;

    assert!(!store.exists().await.unwrap());
    assert!(store.load().await.unwrap().is_none());
    store.create().await.unwrap();
    assert!(store.exists().await.unwrap());
    let created = store.load().await.unwrap().unwrap();

    let mut device = Device::new();
    device.push_name = "Salon Bella".to_owned();
    device.registration_id = 4242;
    device.next_pre_key_id = 77;
    store.save(&device).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.push_name, "Salon Bella");
    assert_eq!(loaded.registration_id, 4242);
    assert_eq!(loaded.next_pre_key_id, 77);
    assert_eq!(
        loaded.identity_key.public_key.public_key_bytes(),
        device.identity_key.public_key.public_key_bytes()
    );
    assert_ne!(
        loaded.identity_key.public_key.public_key_bytes(),
        created.identity_key.public_key.public_key_bytes(),
        "save replaces the created identity"
    );
    // Creating again keeps the saved device.
    store.create().await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().registration_id, 4242);
}

#[tokio::test]
async fn tenants_never_see_each_others_keys_and_wipe_is_per_tenant() {
    let (app, store_a, store_b) = two_stores().await;
    fill(&store_a).await;

    assert_eq!(
        store_b.load_identity("111@s.whatsapp.net").await.unwrap(),
        None
    );
    assert_eq!(
        store_b.get_session("111@s.whatsapp.net").await.unwrap(),
        None
    );
    assert_eq!(store_b.load_prekey(7).await.unwrap(), None);
    assert_eq!(store_b.get_max_prekey_id().await.unwrap(), 0);
    assert!(store_b.load_all_signed_prekeys().await.unwrap().is_empty());
    assert_eq!(store_b.get_sender_key("group:111").await.unwrap(), None);
    assert!(store_b.get_sync_key(b"key-1").await.unwrap().is_none());
    assert_eq!(store_b.get_latest_sync_key_id().await.unwrap(), None);
    assert_eq!(store_b.get_version("regular").await.unwrap().version, 0);
    assert_eq!(
        store_b.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        None
    );
    assert!(
        store_b
            .get_sender_key_devices("g@g.us")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store_b.get_all_lid_mappings().await.unwrap().is_empty());
    assert!(
        !store_b
            .has_same_base_key("111.1", "m1", b"base")
            .await
            .unwrap()
    );
    assert!(store_b.get_devices("111").await.unwrap().is_none());
    assert!(store_b.get_all_tc_token_jids().await.unwrap().is_empty());
    assert_eq!(
        store_b
            .take_sent_message("111@s.whatsapp.net", "m1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store_b.get_msg_secret("c", "s", "m").await.unwrap(), None);
    assert!(!store_b.exists().await.unwrap());
    assert!(!store_b.has_signal_state_for_user("111").await.unwrap());

    // B's deletes and sweeps leave A alone.
    store_b.clear_all_sender_key_devices().await.unwrap();
    store_b.delete_expired_msg_secrets(i64::MAX).await.unwrap();
    store_b
        .delete_expired_sent_messages(i64::MAX)
        .await
        .unwrap();
    store_b
        .delete_expired_tc_tokens(i64::MAX, i64::MAX)
        .await
        .unwrap();
    fill(&store_b).await;
    let rows_a = key_rows(&app, store_a.tenant().into()).await;
    assert_eq!(rows_a, key_rows(&app, store_b.tenant().into()).await);
    assert_eq!(rows_a, 18, "one row per kind and the device");

    wipe(app.db(), store_a.tenant()).await.unwrap();
    assert_eq!(key_rows(&app, store_a.tenant().into()).await, 0);
    assert!(!store_a.exists().await.unwrap());
    assert_eq!(
        key_rows(&app, store_b.tenant().into()).await,
        rows_a,
        "B keeps its keys"
    );
    assert_eq!(
        store_b.load_identity("111@s.whatsapp.net").await.unwrap(),
        Some([1; 32])
    );
}

#[tokio::test]
async fn deleting_a_tenant_deletes_its_keys() {
    let (app, store_a, store_b) = two_stores().await;
    fill(&store_a).await;
    fill(&store_b).await;

    let (status, body) = app
        .api_call(
            reqwest::Method::DELETE,
            &format!("/api/admin/tenants/{}", store_a.tenant()),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");

    assert_eq!(key_rows(&app, store_a.tenant().into()).await, 0);
    assert_eq!(key_rows(&app, store_b.tenant().into()).await, 18);
}

#[tokio::test]
async fn leaving_whatsapp_web_forgets_the_device_keys() {
    let (app, store_a, store_b) = two_stores().await;
    let switch = |tenant: Uuid, kind: &'static str| {
        let app = &app;
        async move {
            app.api_call(
                reqwest::Method::PUT,
                &format!("/api/admin/tenants/{tenant}/transport"),
                Some(&serde_json::json!({ "kind": kind })),
            )
            .await
        }
    };
    let (status, body) = switch(store_a.tenant().into(), "whatsapp_web").await;
    assert!(status.is_success(), "{status}: {body}");
    fill(&store_a).await;
    fill(&store_b).await;

    // Saving the same transport again keeps the link.
    let (status, body) = switch(store_a.tenant().into(), "whatsapp_web").await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(key_rows(&app, store_a.tenant().into()).await, 18);

    let (status, body) = switch(store_a.tenant().into(), "sandbox").await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(key_rows(&app, store_a.tenant().into()).await, 0);
    assert_eq!(key_rows(&app, store_b.tenant().into()).await, 18);
}

// --- Sealing -------------------------------------------------------------

/// The stored bytes of one of the tenant's `wa_key` rows.
async fn raw_key(app: &TestApp, tenant: Uuid, kind: &str, key1: &str) -> entity::wa_key::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    entity::wa_key::Entity::find()
        .filter(entity::wa_key::Column::TenantId.eq(tenant))
        .filter(entity::wa_key::Column::Kind.eq(kind))
        .filter(entity::wa_key::Column::Key1.eq(key1))
        .one(app.db())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {kind} row {key1}"))
}

async fn raw_device(app: &TestApp, tenant: Uuid) -> entity::wa_device::Model {
    entity::wa_device::Entity::find_by_id(tenant)
        .one(app.db())
        .await
        .unwrap()
        .expect("a device row")
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn keys_are_stored_sealed_and_another_tenants_rows_do_not_open() {
    let (app, store_a, store_b) = two_stores().await;
    let (a, b): (Uuid, Uuid) = (store_a.tenant().into(), store_b.tenant().into());
    fill(&store_a).await;
    let device = Device::new();
    store_a.save(&device).await.unwrap();

    // What the store reads back is the plaintext; what the table holds is not.
    let plain: [(&str, &str, &[u8]); 4] = [
        ("identity", "111@s.whatsapp.net", &[1; 32]),
        ("session", "111@s.whatsapp.net", b"session"),
        ("prekey", "7", b"prekey"),
        ("tc_token", "900@lid", b"tok"),
    ];
    for (kind, key1, plaintext) in plain {
        let row = raw_key(&app, a, kind, key1).await;
        assert!(row.sealed, "{kind}");
        assert!(
            !contains(&row.value, plaintext),
            "{kind} stored in the clear"
        );
    }
    assert_eq!(
        store_a.load_identity("111@s.whatsapp.net").await.unwrap(),
        Some([1; 32])
    );
    let stored = raw_device(&app, a).await;
    assert!(stored.sealed);
    let json = serde_json::to_vec(&device).unwrap();
    assert_ne!(stored.data, json);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&stored.data).is_err(),
        "the device is not readable JSON in the table"
    );
    let loaded = store_a.load().await.unwrap().expect("A's device");
    assert_eq!(loaded.registration_id, device.registration_id);

    // A's sealed rows copied to B, keys and all: B's store cannot open them.
    let identity = raw_key(&app, a, "identity", "111@s.whatsapp.net").await;
    entity::wa_key::Entity::insert(entity::wa_key::ActiveModel {
        tenant_id: sea_orm::Set(b),
        ..sea_orm::IntoActiveModel::into_active_model(identity)
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
    entity::wa_device::Entity::insert(entity::wa_device::ActiveModel {
        tenant_id: sea_orm::Set(b),
        ..sea_orm::IntoActiveModel::into_active_model(stored)
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
    assert!(
        store_b.load_identity("111@s.whatsapp.net").await.is_err(),
        "A's identity key does not open as B's"
    );
    assert!(
        store_b.load().await.is_err(),
        "A's device does not open as B's"
    );
    // Nor as another row of A's own.
    let session = raw_key(&app, a, "session", "111@s.whatsapp.net").await;
    entity::wa_key::Entity::insert(entity::wa_key::ActiveModel {
        key1: sea_orm::Set("222@s.whatsapp.net".to_owned()),
        ..sea_orm::IntoActiveModel::into_active_model(session)
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
    assert!(store_a.get_session("222@s.whatsapp.net").await.is_err());
}

#[tokio::test]
async fn keys_stored_before_sealing_still_load_after_the_upgrade_and_are_sealed_then() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    // As an older Flow HQ left them (the migration marks them unsealed).
    let device = Device::new();
    let device_json = serde_json::to_vec(&device).unwrap();
    entity::wa_device::Entity::insert(entity::wa_device::ActiveModel {
        tenant_id: sea_orm::Set(tenant),
        data: sea_orm::Set(device_json.clone()),
        updated_at: sea_orm::Set(chrono::Utc::now()),
        sealed: sea_orm::Set(false),
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
    entity::wa_key::Entity::insert(entity::wa_key::ActiveModel {
        tenant_id: sea_orm::Set(tenant),
        kind: sea_orm::Set("identity".to_owned()),
        key1: sea_orm::Set("111@s.whatsapp.net".to_owned()),
        key2: sea_orm::Set(String::new()),
        key3: sea_orm::Set(String::new()),
        value: sea_orm::Set(vec![7; 32]),
        n1: sea_orm::Set(None),
        n2: sea_orm::Set(None),
        sealed: sea_orm::Set(false),
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
    assert!(
        store_of(&app, tenant).load().await.is_err(),
        "an unsealed row is refused while it is one"
    );

    // The upgraded app seals them at its start; the link works as before.
    let app = app.restart().await;
    let store = store_of(&app, tenant);
    assert_eq!(
        store.load_identity("111@s.whatsapp.net").await.unwrap(),
        Some([7; 32])
    );
    let loaded = store.load().await.unwrap().expect("the device");
    assert_eq!(loaded.registration_id, device.registration_id);
    let identity = raw_key(&app, tenant, "identity", "111@s.whatsapp.net").await;
    assert!(identity.sealed);
    assert!(!contains(&identity.value, &[7; 32]));
    let stored = raw_device(&app, tenant).await;
    assert!(stored.sealed);
    assert_ne!(stored.data, device_json);
}

// --- The transport -------------------------------------------------------

mod transport {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;
    use entity::enums::TransportKind;
    use flowhq::bots::transport::InboundMessage;
    use flowhq::bots::transport::whatsapp_web::{Backoff, Mapped, chat_jid, map_event};
    use reqwest::StatusCode;
    use sea_orm::{ActiveModelTrait, Set};
    use serde_json::json;
    use whatsapp_rust::Jid;
    use whatsapp_rust::prelude::{BatchOrigin, Event, MessageBuilderExt, wa};
    use whatsapp_rust::wacore::pair_code::PairCodeRejection;
    use whatsapp_rust::wacore::types::events::{
        ConnectFailure, ConnectFailureReason, InboundMessage as WaInbound, LoggedOut, MessageBatch,
        PairingCode, PairingCodeError, PairingQrCode, PairingQrCodesExhausted, StreamReplaced,
        TempBanReason, TemporaryBan,
    };
    use whatsapp_rust::wacore::types::message::{MessageInfo, MessageSource};

    use crate::helpers::{eventually, spawn_app_with};

    #[tokio::test]
    async fn without_network_a_whatsapp_web_bot_ends_in_error_saying_whatsapp_is_unreachable() {
        // This machine has no internet: resolving WhatsApp's hosts fails at
        // once, so the watchdog is what ends the retries.
        let app = spawn_app_with(|settings| {
            settings.whatsapp_web.connect_timeout = Duration::from_secs(2);
            settings.whatsapp_web.reconnect_min = Duration::from_millis(200);
            settings.whatsapp_web.reconnect_max = Duration::from_secs(1);
        })
        .await;
        let id = app.new_tenant(1).await;
        let (status, body) = app
            .api_post(&format!("/api/admin/tenants/{id}/approve"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        entity::tenant_config::ActiveModel {
            tenant_id: Set(id),
            transport: Set(TransportKind::WhatsappWeb),
            ..Default::default()
        }
        .update(app.db())
        .await
        .unwrap();

        let (status, body) = app
            .api_post(&format!("/api/admin/tenants/{id}/bot/start"), &json!({}))
            .await;
        assert!(status.is_success(), "{status}: {body}");

        let tenant = eventually("the bot to give up", || async {
            let tenant = app.tenant(id).await;
            (tenant["status"] == "ERROR").then_some(tenant)
        })
        .await;
        let error = tenant["worker"]["last_error"].as_str().unwrap();
        let cause = error
            .strip_prefix("cannot reach WhatsApp servers: ")
            .unwrap_or_else(|| panic!("last error: {error}"));
        assert!(!cause.trim().is_empty(), "the cause is named: {error}");
        assert_eq!(tenant["worker"]["status"], "ERROR", "{tenant}");
        assert_eq!(
            tenant["worker"]["desired_state"], "STOPPED",
            "not restarted: {tenant}"
        );
    }

    fn text_from(source: MessageSource, id: &str, text: &str) -> Event {
        message_from(source, id, wa::Message::text(text))
    }

    fn message_from(source: MessageSource, id: &str, message: wa::Message) -> Event {
        let info = MessageInfo {
            source,
            id: id.to_owned(),
            timestamp: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            ..Default::default()
        };
        let message = WaInbound::builder()
            .message(Arc::new(message))
            .info(Arc::new(info))
            .build();
        Event::Messages(
            MessageBatch::builder()
                .messages(Arc::from(vec![message]))
                .origin(BatchOrigin::Live)
                .build(),
        )
    }

    fn direct(chat: Jid) -> MessageSource {
        MessageSource {
            sender: chat.clone(),
            chat,
            ..Default::default()
        }
    }

    #[test]
    fn a_customers_text_becomes_an_inbound_message_from_their_number() {
        let event = text_from(direct(Jid::pn("4915112345678")), "3EB0ABC", "Hello!");
        assert_eq!(
            map_event(&event),
            vec![Mapped::Message(Box::new(InboundMessage {
                id: "3EB0ABC".to_owned(),
                from: "+4915112345678".to_owned(),
                text: "Hello!".to_owned(),
                kind: entity::enums::MessageKind::Text,
                at: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                contact_name: None,
                stored: None,
            }))]
        );
    }

    #[test]
    fn a_hidden_number_chat_uses_the_number_when_known_else_its_lid() {
        let mut source = direct(Jid::lid("100000012345678"));
        source.sender_alt = Some(Jid::pn("4915112345678"));
        let [Mapped::Message(known)] = &map_event(&text_from(source, "a", "hi"))[..] else {
            panic!("one message")
        };
        assert_eq!(known.from, "+4915112345678");

        let hidden = direct(Jid::lid("100000012345678"));
        let [Mapped::Message(hidden)] = &map_event(&text_from(hidden, "b", "hi"))[..] else {
            panic!("one message")
        };
        assert_eq!(hidden.from, "100000012345678@lid");
        // And the bot's answer goes back to that chat.
        assert_eq!(chat_jid(&hidden.from).unwrap(), Jid::lid("100000012345678"));
    }

    #[test]
    fn photos_documents_and_places_are_kept_with_their_words() {
        use entity::enums::MessageKind;
        use whatsapp_rust::prelude::MessageField;
        let customer = || direct(Jid::pn("4915112345678"));
        let photo = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: Some("our shop front".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let document = wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                file_name: Some("menu.pdf".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let place = wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(52.5),
                degrees_longitude: Some(13.25),
                name: Some("Shop".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let voice = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage::default()),
            ..Default::default()
        };
        for (message, kind, text) in [
            (photo, MessageKind::Image, "our shop front"),
            (document, MessageKind::Document, "menu.pdf"),
            (place, MessageKind::Location, "Shop · 52.5, 13.25"),
            (voice, MessageKind::Audio, ""),
        ] {
            let [Mapped::Message(m)] = &map_event(&message_from(customer(), "m", message))[..]
            else {
                panic!("one message of kind {kind:?}")
            };
            assert_eq!((m.kind, m.text.as_str()), (kind, text));
            assert_eq!(m.from, "+4915112345678");
        }
    }

    #[test]
    fn what_the_business_phone_writes_is_the_phone_s_not_a_customer_s() {
        let mut own = direct(Jid::pn("4915112345678"));
        own.is_from_me = true;
        let [Mapped::PhoneWrote(phone)] = &map_event(&text_from(own, "a", "I'll call you"))[..]
        else {
            panic!("one message from the phone")
        };
        assert_eq!(phone.chat, "+4915112345678", "the customer's chat");
        assert_eq!(phone.text, "I'll call you");
        assert_eq!(phone.id, "a");
    }

    #[test]
    fn group_and_empty_messages_are_not_for_the_bot() {
        let group = MessageSource {
            chat: "120363021033254949@g.us".parse().unwrap(),
            sender: Jid::pn("4915112345678"),
            is_group: true,
            ..Default::default()
        };
        assert!(map_event(&text_from(group, "b", "hi")).is_empty());

        let info = MessageInfo {
            source: direct(Jid::pn("4915112345678")),
            id: "c".to_owned(),
            ..Default::default()
        };
        let reaction_only = WaInbound::builder()
            .message(Arc::new(wa::Message::default()))
            .info(Arc::new(info))
            .build();
        let event = Event::Messages(
            MessageBatch::builder()
                .messages(Arc::from(vec![reaction_only]))
                .origin(BatchOrigin::Live)
                .build(),
        );
        assert!(map_event(&event).is_empty());
    }

    #[test]
    fn linking_events_map_to_qr_and_pairing_code_with_their_lifetime() {
        let qr = Event::PairingQrCode(
            PairingQrCode::builder()
                .code("2@abc,def".to_owned())
                .timeout(Duration::from_secs(60))
                .build(),
        );
        assert_eq!(
            map_event(&qr),
            vec![Mapped::Qr {
                code: "2@abc,def".to_owned(),
                ttl: Duration::from_secs(60)
            }]
        );
        let code = Event::PairingCode(
            PairingCode::builder()
                .code("ABCD1234".to_owned())
                .timeout(Duration::from_secs(180))
                .build(),
        );
        assert_eq!(
            map_event(&code),
            vec![Mapped::PairingCode {
                code: "ABCD1234".to_owned(),
                ttl: Duration::from_secs(180)
            }]
        );
        let exhausted = Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(true)
                .build(),
        );
        assert_eq!(
            map_event(&exhausted),
            vec![Mapped::QrExhausted { disconnected: true }]
        );
    }

    #[test]
    fn a_removed_device_is_a_logout_and_a_replaced_stream_is_fatal() {
        let logged_out = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        );
        assert_eq!(map_event(&logged_out), vec![Mapped::LoggedOut]);

        let replaced = Event::StreamReplaced(StreamReplaced::builder().build());
        let [Mapped::Fatal(reason)] = &map_event(&replaced)[..] else {
            panic!("fatal")
        };
        assert!(reason.contains("running twice"), "{reason}");
    }

    #[test]
    fn a_temporary_ban_pauses_for_as_long_as_whatsapp_says() {
        let ban = Event::TemporaryBan(
            TemporaryBan::builder()
                .code(TempBanReason::SentToTooManyPeople)
                .expire(chrono::Duration::seconds(3_600))
                .build(),
        );
        let [Mapped::Pause { reason, wait }] = &map_event(&ban)[..] else {
            panic!("a pause")
        };
        assert_eq!(*wait, Duration::from_secs(3_600));
        assert!(
            reason.starts_with("temporarily banned by WhatsApp"),
            "{reason}"
        );
        assert!(reason.ends_with("paused for 1h"), "{reason}");
    }

    #[test]
    fn throttled_pairing_codes_pause_and_refused_ones_are_fatal() {
        let throttled = Event::PairingCodeError(
            PairingCodeError::builder()
                .rejection(PairCodeRejection::RateOverlimit)
                .backoff(Duration::from_secs(90))
                .error("rate-overlimit".to_owned())
                .build(),
        );
        assert_eq!(
            map_event(&throttled),
            vec![Mapped::PairCodeThrottled {
                wait: Some(Duration::from_secs(90))
            }]
        );
        let refused = Event::PairingCodeError(
            PairingCodeError::builder()
                .rejection(PairCodeRejection::Forbidden)
                .error("forbidden".to_owned())
                .build(),
        );
        assert!(matches!(&map_event(&refused)[..], [Mapped::Fatal(_)]));
    }

    #[test]
    fn server_trouble_reconnects_and_refusals_are_fatal() {
        let unavailable = Event::ConnectFailure(
            ConnectFailure::builder()
                .reason(ConnectFailureReason::ServiceUnavailable)
                .build(),
        );
        assert!(
            map_event(&unavailable).is_empty(),
            "the connection just ends"
        );
        let outdated = Event::ConnectFailure(
            ConnectFailure::builder()
                .reason(ConnectFailureReason::BadUserAgent)
                .message("bad ua".to_owned())
                .build(),
        );
        let [Mapped::Fatal(reason)] = &map_event(&outdated)[..] else {
            panic!("fatal")
        };
        assert!(
            reason.contains("BadUserAgent") && reason.ends_with(": bad ua"),
            "{reason}"
        );
    }

    #[test]
    fn reconnect_waits_grow_with_jitter_up_to_the_cap_and_reset() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(60));
        let mut backoff = Backoff::new(min, max);
        let mut ceiling = min;
        for _ in 0..20 {
            let wait = backoff.next_wait();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} within {ceiling:?}"
            );
            ceiling = (ceiling * 2).min(max);
        }
        assert_eq!(ceiling, max, "it reached the cap");
        backoff.reset();
        assert!(backoff.next_wait() <= min);
    }

    #[test]
    fn chats_are_addressed_by_number_or_jid() {
        assert_eq!(
            chat_jid("+4915112345678").unwrap(),
            Jid::pn("4915112345678")
        );
        assert_eq!(chat_jid("4915112345678").unwrap(), Jid::pn("4915112345678"));
        assert!(chat_jid("+49 151").is_err());
        assert!(chat_jid("").is_err());
    }
}
