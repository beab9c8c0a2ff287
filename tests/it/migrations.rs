use std::process::Command;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{TestDatabase, spawn_app};

pub const TABLES: [&str; 17] = [
    "tenant",
    "tenant_config",
    "whatsapp_session",
    "worker_process",
    "message_log",
    "user",
    "setup_request",
    "audit_log",
    "admin_account",
    "web_session",
    "admin_api_token",
    "oauth_login",
    "transport_credential",
    "wa_device",
    "wa_key",
    "conversation",
    "team_invite",
];

#[tokio::test]
async fn booting_creates_every_table_of_the_data_model() {
    let app = spawn_app().await;
    let db = app.db();
    for table in TABLES {
        let count = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!(r#"SELECT COUNT(*) AS n FROM "{table}""#),
            ))
            .await
            .unwrap_or_else(|err| panic!("table {table} is missing: {err}"))
            .unwrap();
        let rows: i64 = count.try_get("", "n").unwrap();
        // The first start creates the bootstrap admin; all else starts empty.
        let expected = i64::from(table == "admin_account");
        assert_eq!(rows, expected, "rows in {table} after the first start");
    }
}

#[tokio::test]
async fn migrating_again_applies_nothing() {
    let app = spawn_app().await;
    let applied = flowhq::db::migrate(app.db()).await.unwrap();
    assert_eq!(applied, 0);
}

#[tokio::test]
async fn the_migrate_command_migrates_a_fresh_database_then_finds_nothing_to_do() {
    let database = TestDatabase::create().await;
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_flowhq"))
            .arg("migrate")
            .env("FLOWHQ__DATABASE__URL", &database.url)
            .output()
            .unwrap()
    };

    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    let all = Migrator::migrations().len();
    assert!(
        stdout.contains(&format!(" {all} migration(s) applied")),
        "{stdout}"
    );

    let second = run();
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains(" 0 migration(s) applied"), "{stdout}");
}
