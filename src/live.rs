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
//!
//! Changes are counted on one clock per process, and each tenant's last
//! change is kept: a page notes the clock ([`Live::mark`]) before it reads
//! what it shows, and its stream (or the stream it reopens, by SSE's
//! `Last-Event-ID`) is told at once only when the tenant changed after
//! that mark, so a quiet page never reads itself again on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

#[derive(Clone)]
pub struct Live {
    channels: Arc<DashMap<TenantId, broadcast::Sender<Change>>>,
    /// Changes published so far, and each tenant's last one on that count.
    clock: Arc<AtomicU64>,
    changed: Arc<DashMap<TenantId, u64>>,
    /// This process's own name for its clock: a mark of another process
    /// (before a restart) says nothing of what happened since.
    boot: Arc<str>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            channels: Arc::default(),
            clock: Arc::default(),
            changed: Arc::default(),
            boot: uuid::Uuid::new_v4().simple().to_string()[..12].into(),
        }
    }
}

impl Live {
    /// Tells `tenant`'s watchers that something changed.
    pub fn publish(&self, tenant: TenantId) {
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed
            .entry(tenant)
            .and_modify(|last| *last = (*last).max(now))
            .or_insert(now);
        self.send(tenant, Change::Data);
    }

    /// The clock now, as a page or an event notes it (`boot.count`).
    pub fn mark(&self) -> String {
        format!("{}.{}", self.boot, self.clock.load(Ordering::SeqCst))
    }

    /// Whether `tenant` changed after `mark` was taken: always when the
    /// mark is another process's (or unreadable), as nobody knows.
    pub fn changed_since(&self, tenant: TenantId, mark: &str) -> bool {
        let seen = mark
            .split_once('.')
            .filter(|(boot, _)| *boot == &*self.boot)
            .and_then(|(_, count)| count.parse::<u64>().ok());
        match seen {
            Some(seen) => self.changed.get(&tenant).is_some_and(|last| *last > seen),
            None => true,
        }
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

    #[test]
    fn a_mark_tells_whether_its_tenant_changed_after_it() {
        let live = Live::default();
        let (a, b) = (TenantId::new_random(), TenantId::new_random());
        live.publish(a);
        let mark = live.mark();
        assert!(!live.changed_since(a, &mark), "A's change was before");
        live.publish(b);
        assert!(!live.changed_since(a, &mark), "B's change is not A's");
        assert!(live.changed_since(b, &mark));
        live.publish(a);
        assert!(live.changed_since(a, &mark));
        assert!(!live.changed_since(a, &live.mark()));
        let another_process = Live::default();
        assert!(
            another_process.changed_since(a, &mark),
            "a mark of an earlier process says nothing of what happened since"
        );
        assert!(live.changed_since(a, "garbage"));
    }
}
