//! Operators open the live database from outside: `sqlite3` for a look,
//! `flowhq backup` for a copy. Neither may break the running server.

use std::path::Path;
use std::process::{Command, Output};

use entity::enums::Direction;
use entity::{message_log, tenant};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::bots::linked_tenant;
use crate::helpers::{ServerProcess, TestApp, eventually, flowhq_command, spawn_app, tenant_draft};

/// Runs `flowhq <args>` as another process on the app's database.
async fn flowhq(app: &TestApp, args: &[&str]) -> Output {
    let url = app.database_url();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let mut command = flowhq_command(dir.path());
        command.args(&args);
        command.env("FLOWHQ__DATABASE__URL", &url).output().unwrap()
    })
    .await
    .unwrap()
}

/// Sends `n` customer messages (ids `{prefix}-{i}`) and waits until every
/// one is answered.
async fn converse(app: &TestApp, id: Uuid, prefix: &str, n: usize) {
    for i in 0..n {
        let (status, body) = app
            .api_post(
                &format!("/api/admin/tenants/{id}/sandbox/inbound"),
                &json!({ "from": format!("+49176000000{i:02}"), "text": "hello", "id": format!("{prefix}-{i}") }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    eventually(&format!("{n} replies to {prefix}"), || async {
        let answered = message_log::Entity::find()
            .filter(message_log::Column::TenantId.eq(id))
            .filter(message_log::Column::Direction.eq(Direction::In))
            .filter(message_log::Column::WaMessageId.starts_with(format!("{prefix}-")))
            .filter(message_log::Column::Status.eq(entity::enums::MessageStatus::Answered))
            .count(app.db())
            .await
            .unwrap();
        (answered == n as u64).then_some(())
    })
    .await;
}

/// Runs the `sqlite3` shell on `file`; `None` (after a line on stderr) when
/// it is not installed, unless `FLOWHQ_SQLITE3_TESTS=required` (as in CI).
fn sqlite3(file: &Path, sql: &str) -> Option<String> {
    match Command::new("sqlite3").arg(file).arg(sql).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(err) if std::env::var("FLOWHQ_SQLITE3_TESTS").as_deref() == Ok("required") => {
            panic!("sqlite3 is required here: {err}")
        }
        Err(err) => {
            eprintln!("skipping the sqlite3 shell check: {err} (apt-get install sqlite3)");
            None
        }
    }
}

fn wal_of(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// `flowhq backup` on the app's own database, as another process.
#[tokio::test]
async fn a_live_backup_from_another_process_leaves_the_server_writing_and_holds_the_data() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    converse(&app, id, "before", 5).await;
    let target = tempfile::tempdir().unwrap();
    let copy = target.path().join("copy.db");
    let out = flowhq(&app, &["backup", copy.to_str().unwrap()]).await;
    let Some(file) = app.sqlite_file() else {
        // PostgreSQL has its own tools, and the command says so.
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pg_dump"), "{stderr}");
        assert!(!copy.exists());
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server goes on storing and answering while and after it copies.
    assert!(wal_of(&file).exists());
    converse(&app, id, "after", 5).await;
    // A second copy of the same name is refused, the first left alone.
    let again = flowhq(&app, &["backup", copy.to_str().unwrap()]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    let backup = Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    assert!(
        tenant::Entity::find_by_id(id)
            .one(&backup)
            .await
            .unwrap()
            .is_some(),
        "the tenant is in the copy"
    );
    let copied = |direction| {
        message_log::Entity::find()
            .filter(message_log::Column::TenantId.eq(id))
            .filter(message_log::Column::Direction.eq(direction))
            .count(&backup)
    };
    assert_eq!(
        copied(Direction::In).await.unwrap(),
        5,
        "the messages before the copy"
    );
    assert_eq!(
        copied(Direction::Out).await.unwrap(),
        5,
        "and their replies"
    );
    backup.close().await.unwrap();
}

/// Creates a tenant through the server's admin API; answers its status.
async fn create_tenant(server: &ServerProcess, n: u32) -> StatusCode {
    server
        .admin(reqwest::Method::POST, "/api/admin/tenants")
        .json(&tenant_draft(n))
        .send()
        .await
        .unwrap()
        .status()
}

/// What an operator does with `sqlite3` while the server runs: read, and
/// close. The server must keep its WAL and go on writing.
#[tokio::test]
async fn an_outside_sqlite_reader_and_a_live_backup_leave_the_served_database_whole() {
    let server = ServerProcess::start().await;
    assert_eq!(create_tenant(&server, 1).await, StatusCode::CREATED);
    let file = server.database_file();
    assert!(wal_of(&file).exists(), "WAL mode");

    // What an operator types: `sqlite3 flowhq.db "select …"`. On closing,
    // sqlite3 checks whether it was the database's last user (it then
    // checkpoints and deletes the WAL): it must see the server's locks.
    if let Some(count) = sqlite3(&file, "select count(*) from tenant;") {
        assert_eq!(count.trim(), "1");
        assert!(
            wal_of(&file).exists(),
            "the outside reader took itself for the last one and deleted the live WAL"
        );
        let shell_copy = file.with_file_name("shell-copy.db");
        sqlite3(&file, &format!(".backup '{}'", shell_copy.display()));
        assert!(wal_of(&file).exists(), "and so did its .backup");
        let copied = sqlite3(&shell_copy, "select count(*) from tenant;");
        assert_eq!(copied.as_deref().map(str::trim), Some("1"));
    }
    // A live backup (another process).
    let copy = file.with_file_name("copy.db");
    let out = server.run(&["backup", copy.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wal_of(&file).exists(),
        "the outside connection took itself for the last one and deleted the live WAL"
    );
    for n in 2..=21 {
        assert_eq!(
            create_tenant(&server, n).await,
            StatusCode::CREATED,
            "write {n}"
        );
    }
    let listed: serde_json::Value = server
        .admin(reqwest::Method::GET, "/api/admin/tenants?per_page=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 21, "{listed}");

    // A fresh start on the same data (after a kill) finds every write.
    let db = Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    assert_eq!(
        tenant::Entity::find().count(&db).await.unwrap(),
        1,
        "the copy"
    );
    db.close().await.unwrap();
    let mut server = server;
    server.kill();
    let db = Database::connect(format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert_eq!(
        tenant::Entity::find().count(&db).await.unwrap(),
        21,
        "nothing lost"
    );
    db.close().await.unwrap();
}
