//! Point reads that many bots make at the same moment (10,000 of them
//! when a process boots), coalesced: each caller asks for its own tenant,
//! and one task reads whatever has queued up in the meantime in ONE query
//! of up to `IN_LIST_CHUNK` tenants, then hands each caller its own
//! answer. A lone caller is read at once: there is no timer, so nothing
//! waits when nobody else is asking. Batches grow while earlier ones are
//! being read (at most `concurrency` at once).
//!
//! Not the `dataloader` crate: it holds one lock across every load (no
//! batch starts while another is read), it reports a failed load only as a
//! missing key (the database's error is lost), and it decides when a batch
//! is complete by counting executor yields.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use sea_orm::DbErr;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::IN_LIST_CHUNK;
use crate::domain::ids::TenantId;

type Answer<V> = oneshot::Sender<Result<Option<V>, String>>;

/// A coalescing reader of one kind of per-tenant row.
pub struct Coalesced<V> {
    tx: mpsc::UnboundedSender<(TenantId, Answer<V>)>,
}

impl<V: Clone + Send + 'static> Coalesced<V> {
    /// Starts the reader task (on the current runtime); it ends when this
    /// is dropped. `read` answers the rows of the tenants it is given,
    /// leaving out those it did not find.
    pub fn spawn<F, Fut>(concurrency: usize, read: F) -> Self
    where
        F: Fn(Vec<TenantId>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<TenantId, V>, DbErr>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(TenantId, Answer<V>)>();
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Waiting for a free slot is what lets the next batch grow.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < IN_LIST_CHUNK {
                    match rx.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                let mut tenants: Vec<TenantId> = batch.iter().map(|(tenant, _)| *tenant).collect();
                tenants.sort_unstable();
                tenants.dedup();
                let reading = read(tenants);
                tokio::spawn(async move {
                    let mut batch = batch;
                    let result = reading.await;
                    drop(slot);
                    match result {
                        Ok(mut found) => {
                            // Moved out, and copied only for a tenant
                            // asked for twice.
                            batch.sort_by_key(|(tenant, _)| *tenant);
                            let mut batch = batch.into_iter().peekable();
                            while let Some((tenant, answer)) = batch.next() {
                                let again = batch.peek().is_some_and(|(next, _)| *next == tenant);
                                let row = if again {
                                    found.get(&tenant).cloned()
                                } else {
                                    found.remove(&tenant)
                                };
                                let _ = answer.send(Ok(row));
                            }
                        }
                        Err(err) => {
                            let err = err.to_string();
                            for (_, answer) in batch {
                                let _ = answer.send(Err(err.clone()));
                            }
                        }
                    }
                });
            }
        });
        Self { tx }
    }

    /// The tenant's row (`None`: not found), read together with every
    /// other caller's of the moment.
    pub async fn get(&self, tenant: TenantId) -> Result<Option<V>, DbErr> {
        let (answer, answered) = oneshot::channel();
        let stopped = || DbErr::Custom("the coalescing reader has stopped".into());
        self.tx.send((tenant, answer)).map_err(|_| stopped())?;
        answered
            .await
            .map_err(|_| stopped())?
            .map_err(DbErr::Custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn callers_of_one_moment_share_a_read_and_each_gets_its_own_row() {
        let reads: Arc<Mutex<Vec<Vec<TenantId>>>> = Arc::default();
        let gate = Arc::new(tokio::sync::Notify::new());
        let reader = Arc::new(Coalesced::spawn(1, {
            let (reads, gate) = (reads.clone(), gate.clone());
            move |tenants: Vec<TenantId>| {
                let (reads, gate) = (reads.clone(), gate.clone());
                async move {
                    let first = reads.lock().unwrap().is_empty();
                    reads.lock().unwrap().push(tenants.clone());
                    if first {
                        // Held until the others have queued up behind it.
                        gate.notified().await;
                    }
                    Ok(tenants
                        .into_iter()
                        .filter(|t| uuid::Uuid::from(*t).as_u128() % 10 == 0)
                        .map(|t| (t, t.to_string()))
                        .collect())
                }
            }
        }));
        let id = |n: u32| TenantId::from(uuid::Uuid::from_u128(u128::from(n)));
        let ask = |n: u32| {
            let reader = reader.clone();
            tokio::spawn(async move { reader.get(id(n)).await })
        };
        let lone = ask(10);
        while reads.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let others: Vec<_> = (1..=20).map(ask).collect();
        // A repeated tenant is read once and answered twice.
        let again = ask(20);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gate.notify_one();
        assert_eq!(lone.await.unwrap().unwrap(), Some(id(10).to_string()));
        for (n, answer) in (1..=20).zip(others) {
            let expected = (n % 10 == 0).then(|| id(n).to_string());
            assert_eq!(answer.await.unwrap().unwrap(), expected, "tenant {n}");
        }
        assert_eq!(again.await.unwrap().unwrap(), Some(id(20).to_string()));
        let reads = reads.lock().unwrap();
        assert_eq!(reads.len(), 2, "the lone caller, then all the others");
        assert_eq!(reads[0], vec![id(10)]);
        assert_eq!(reads[1], (1..=20).map(id).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failed_read_tells_every_caller_of_its_batch_why() {
        let reader: Coalesced<()> = Coalesced::spawn(1, |_| async {
            Err(DbErr::Custom("the database is gone".into()))
        });
        let err = reader
            .get(TenantId::from(uuid::Uuid::nil()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("the database is gone"), "{err}");
    }
}
