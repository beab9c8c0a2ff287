//! `flowhq admin …`: the binary, run against a database of the test's own
//! (SQLite, or PostgreSQL with `TEST_DATABASE_URL`), checked through the
//! services the web app uses.

use std::io::Write;
use std::process::{Output, Stdio};

use flowhq::services::admins;
use sea_orm::{Database, DatabaseConnection};

use crate::helpers::{TestDatabase, flowhq_command};

const PASSWORD: &str = "correct horse battery";

/// Runs `flowhq admin <args>` with `stdin` piped in (not a terminal), in an
/// empty directory, with no FLOWHQ__* variable but the database URL.
async fn flowhq_admin(database: &TestDatabase, args: &[&str], stdin: &str) -> Output {
    let url = database.url.clone();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let mut command = flowhq_command(dir.path());
        command.arg("admin").args(&args);
        let mut child = command
            .env("FLOWHQ__DATABASE__URL", &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The process may exit before reading (a refused command): ignore EPIPE.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Exit code 1 and exactly one line on stderr, returned.
fn refusal(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stdout: {}", stdout(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    lines[0].to_owned()
}

async fn connect(database: &TestDatabase) -> DatabaseConnection {
    Database::connect(&database.url).await.unwrap()
}

async fn create_alice(database: &TestDatabase) {
    let output = flowhq_admin(database, &["create", "alice"], &format!("{PASSWORD}\n")).await;
    assert_success(&output);
    assert_eq!(stdout(&output).trim(), "admin alice created");
}

#[tokio::test]
async fn an_admin_created_from_the_cli_can_sign_in_with_the_password_from_stdin() {
    let database = TestDatabase::create().await;
    create_alice(&database).await;

    let db = connect(&database).await;
    let admin = admins::authenticate(&db, "alice", PASSWORD).await.unwrap();
    assert_eq!(admin.map(|a| a.username).as_deref(), Some("alice"));
    // The line ending is not part of the password.
    let with_newline = format!("{PASSWORD}\n");
    assert!(
        admins::authenticate(&db, "alice", &with_newline)
            .await
            .unwrap()
            .is_none()
    );
    // The CLI does not start the app, so it makes no bootstrap admin.
    assert!(admins::find_by_name(&db, "admin").await.unwrap().is_none());
    db.close().await.unwrap();
}

#[tokio::test]
async fn reset_password_from_the_cli_replaces_the_old_password() {
    let database = TestDatabase::create().await;
    create_alice(&database).await;

    let new_password = "a brand new passphrase";
    let output = flowhq_admin(
        &database,
        &["reset-password", "alice"],
        &format!("{new_password}\r\n"),
    )
    .await;
    assert_success(&output);
    assert!(stdout(&output).contains("alice"), "{}", stdout(&output));
    assert!(
        !stdout(&output).contains(new_password),
        "a password from stdin is not echoed"
    );

    let db = connect(&database).await;
    let old = admins::authenticate(&db, "alice", PASSWORD).await.unwrap();
    assert!(old.is_none(), "the old password must stop working");
    let new = admins::authenticate(&db, "alice", new_password)
        .await
        .unwrap();
    assert!(new.is_some(), "the new password must work");
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_too_short_password_is_refused_with_exit_code_1() {
    let database = TestDatabase::create().await;
    let output = flowhq_admin(&database, &["create", "alice"], "short\n").await;
    let line = refusal(&output);
    assert!(line.contains("at least 12 characters"), "{line}");
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));

    create_alice(&database).await;
    let output = flowhq_admin(&database, &["reset-password", "alice"], "short\n").await;
    let line = refusal(&output);
    assert!(line.contains("at least 12 characters"), "{line}");
    let db = connect(&database).await;
    let still = admins::authenticate(&db, "alice", PASSWORD).await.unwrap();
    assert!(
        still.is_some(),
        "a refused reset leaves the password as it was"
    );
    db.close().await.unwrap();
}

#[tokio::test]
async fn an_empty_stdin_is_refused_rather_than_taken_as_a_password() {
    let database = TestDatabase::create().await;
    let line = refusal(&flowhq_admin(&database, &["create", "alice"], "").await);
    assert!(line.contains("stdin"), "{line}");
    let line = refusal(&flowhq_admin(&database, &["create", "alice"], "\n").await);
    assert!(line.contains("stdin"), "{line}");
}

#[tokio::test]
async fn commands_naming_an_unknown_admin_fail_with_one_line() {
    let database = TestDatabase::create().await;
    let reset = flowhq_admin(
        &database,
        &["reset-password", "nobody"],
        "long enough password\n",
    )
    .await;
    assert!(refusal(&reset).contains("nobody"));
    let token = flowhq_admin(&database, &["create-token", "nobody", "deploy"], "").await;
    assert!(refusal(&token).contains("nobody"));
}

#[tokio::test]
async fn a_token_created_from_the_cli_authenticates_as_its_admin() {
    let database = TestDatabase::create().await;
    create_alice(&database).await;

    let output = flowhq_admin(&database, &["create-token", "alice", "deploy script"], "").await;
    assert_success(&output);
    let out = stdout(&output);
    let token = out
        .lines()
        .find_map(|line| line.strip_prefix("token (shown once): "))
        .unwrap_or_else(|| panic!("no token line in: {out}"))
        .trim()
        .to_owned();
    assert!(token.starts_with(admins::TOKEN_PREFIX), "{token}");

    let db = connect(&database).await;
    let admin = admins::authenticate_token(&db, &token).await.unwrap();
    assert_eq!(admin.map(|a| a.username).as_deref(), Some("alice"));
    let tokens = admins::list_tokens(&db).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, "deploy script");
    db.close().await.unwrap();
}
