//! Live updates inside the process: "something of tenant T changed" from
//! whoever committed it (the message log writer after each batch, a use
//! case after its transaction) to the pages that watch T (the inbox's
//! event stream).
//!
//! Owns: one small broadcast channel per watched tenant, made when a page
//! subscribes and dropped when the last one leaves, so publishing for a
//! tenant nobody watches costs one map lookup. Events carry no data: a
//! watcher reads what it shows from the database again, so a missed or
//! coalesced event only delays. Besides "data changed", it tells watchers
//! that some of the tenant's sessions ended (a teammate removed), so a
//! stream checks its own session at once. Must not: be relied on by
//! anything that must not miss a change (webhooks read rows, not this; a
//! stream also checks its session at every keep-alive).

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::domain::ids::TenantId;

/// Events a slow watcher may fall behind by before they coalesce.
const PER_TENANT: usize = 16;

/// What changed for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Rows a page shows (messages, statuses, handoffs).
    Data,
    /// Some of the tenant's sessions ended: watchers check theirs.
    SessionsEnded,
}

#[derive(Clone, Default)]
pub struct Live {
    channels: Arc<DashMap<TenantId, broadcast::Sender<Change>>>,
}

impl Live {
    /// Tells `tenant`'s watchers that something changed.
    pub fn publish(&self, tenant: TenantId) {
        self.send(tenant, Change::Data);
    }

    /// Tells `tenant`'s watchers that some of its sessions ended.
    pub fn sessions_ended(&self, tenant: TenantId) {
        self.send(tenant, Change::SessionsEnded);
    }

    fn send(&self, tenant: TenantId, change: Change) {
        if let Some(channel) = self.channels.get(&tenant) {
            let _ = channel.send(change);
        }
    }

    /// Watches `tenant`; channels nobody watches any more go now.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<Change> {
        self.channels
            .retain(|id, channel| *id == tenant || channel.receiver_count() > 0);
        self.channels
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(PER_TENANT).0)
            .subscribe()
    }

    /// Tenants watched right now.
    pub fn watched(&self) -> usize {
        self.channels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watcher_hears_its_own_tenant_only_and_unwatched_channels_go() {
        let live = Live::default();
        let (a, b) = (TenantId::new_random(), TenantId::new_random());
        let mut watching_a = live.subscribe(a);
        live.publish(b);
        live.publish(a);
        assert!(watching_a.try_recv().is_ok());
        assert!(watching_a.try_recv().is_err(), "B's event reached A");
        drop(watching_a);
        let _watching_b = live.subscribe(b);
        assert_eq!(live.watched(), 1, "A's channel was not dropped");
    }
}
