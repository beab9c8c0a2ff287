//! The writers of one SQLite file queue in the process (`db::begin_write`):
//! first come, first served, across every pool of that file, and no longer
//! than its busy timeout; another file's writers do not wait for them.
//! Without the queue each waiter polled SQLite's write lock, asleep up to
//! 100 ms between tries (`flowhq bench --webhooks` shows what that cost).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn pool(dir: &std::path::Path, file: &str, busy_timeout: Duration) -> DatabaseConnection {
    let url = format!("sqlite://{}", dir.join(file).display());
    let mut settings = flowhq::config::Settings::for_tests(&url).database;
    settings.sqlite_busy_timeout = busy_timeout;
    flowhq::db::connect(&settings).await.unwrap()
}

async fn sql(db: &impl ConnectionTrait, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
}

#[tokio::test]
async fn writers_of_one_sqlite_file_take_turns_in_arrival_order_across_pools() {
    let dir = tempfile::tempdir().unwrap();
    let wait = Duration::from_secs(30);
    let (first, second) = (
        pool(dir.path(), "a.db", wait).await,
        pool(dir.path(), "a.db", wait).await,
    );
    let other_file = pool(dir.path(), "b.db", wait).await;
    sql(&first, "CREATE TABLE turns (k INTEGER NOT NULL)").await;
    sql(&other_file, "CREATE TABLE turns (k INTEGER NOT NULL)").await;

    let holder = flowhq::db::begin_write(&first).await.unwrap();
    sql(&holder, "INSERT INTO turns (k) VALUES (0)").await;
    // Four writers, alternately on the two pools of the file. This test's
    // runtime has one thread: a spawned writer runs until it waits for its
    // turn before the test goes on, so they queue in the order spawned.
    let (queued, mut in_queue) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = Vec::new();
    for k in 1..=4 {
        let db = if k % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let queued = queued.clone();
        writers.push(tokio::spawn(async move {
            queued.send(k).unwrap();
            let txn = flowhq::db::begin_write(&db).await.unwrap();
            sql(&txn, &format!("INSERT INTO turns (k) VALUES ({k})")).await;
            txn.commit().await.unwrap();
        }));
        assert_eq!(in_queue.recv().await, Some(k));
        tokio::task::yield_now().await;
    }
    // Another file's writer goes meanwhile.
    let elsewhere = tokio::time::timeout(wait, flowhq::db::begin_write(&other_file))
        .await
        .expect("a writer of another file waited for this file's queue")
        .unwrap();
    sql(&elsewhere, "INSERT INTO turns (k) VALUES (9)").await;
    elsewhere.commit().await.unwrap();
    for writer in &writers {
        assert!(!writer.is_finished(), "a writer did not wait for its turn");
    }

    holder.commit().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let rows = first
        .query_all_raw(Statement::from_string(
            first.get_database_backend(),
            "SELECT k FROM turns ORDER BY rowid",
        ))
        .await
        .unwrap();
    let order: Vec<i64> = rows.iter().map(|r| r.try_get("", "k").unwrap()).collect();
    assert_eq!(order, [0, 1, 2, 3, 4], "first come, first served");
}

#[tokio::test]
async fn a_writer_kept_waiting_past_the_busy_timeout_is_told_the_database_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let db = pool(dir.path(), "a.db", Duration::from_millis(200)).await;
    let holder = flowhq::db::begin_write(&db).await.unwrap();
    let refused = flowhq::db::begin_write(&db)
        .await
        .err()
        .expect("a second writer got in");
    assert!(
        refused.to_string().contains("database is locked"),
        "{refused}"
    );
    holder.commit().await.unwrap();
    // The queue goes on once the holder is done.
    flowhq::db::begin_write(&db)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
}

/// A statement outside a transaction (the heartbeat here) takes its turn
/// in the queue as well. Polling SQLite's lock instead, it found no gap
/// between the queued transactions, each handing the lock to the next, and
/// gave up as locked after the busy timeout.
#[tokio::test]
async fn a_statement_outside_a_transaction_waits_in_the_queue_not_on_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = pool(dir.path(), "a.db", Duration::from_secs(2)).await;
    flowhq::db::migrate(&db).await.unwrap();
    sql(&db, "CREATE TABLE churn (k INTEGER NOT NULL)").await;

    // Three writers back to back for 6 s, each holding the lock 20 ms.
    let until = tokio::time::Instant::now() + Duration::from_secs(6);
    let mut churn = Vec::new();
    for k in 0..3 {
        let db = db.clone();
        churn.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < until {
                let txn = flowhq::db::begin_write(&db).await.unwrap();
                sql(&txn, &format!("INSERT INTO churn (k) VALUES ({k})")).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                txn.commit().await.unwrap();
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        flowhq::services::runtime::worker::heartbeat(&db, "node-a", &[], chrono::Utc::now())
            .await
            .expect("the heartbeat waits for its turn, not for the lock");
    }
    assert!(
        churn.iter().all(|writer| !writer.is_finished()),
        "the writers were still going while the heartbeat was written"
    );
    for writer in churn {
        writer.await.unwrap();
    }
}
