//! Clients that announce a body and never send it: answered 408 within
//! `server.body_timeout`, their connections closed, and the server keeps
//! answering everyone else meanwhile.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;
use crate::helpers::{ServerProcess, tenant_draft};

/// Sends headers announcing 100 bytes of body, then one byte, and waits.
async fn stall(address: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\na"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection.
pub(crate) async fn read_to_close(mut stream: TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_that_never_arrives_is_a_408_and_the_connection_is_closed() {
    let app = spawn_app_with(|settings| {
        settings.server.body_timeout = Duration::from_millis(500);
    })
    .await;
    for path in ["/admin/login", "/auth/logout"] {
        let started = Instant::now();
        let answer = read_to_close(stall(app.address, path).await).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("request_timeout"), "{path}: {answer}");
        assert!(started.elapsed() >= Duration::from_millis(500), "{path}");
    }
    // A webhook address that names no Cloud API tenant is refused before
    // its body is read at all.
    let mut stream = stall(app.address, "/webhooks/whatsapp/x").await;
    let started = Instant::now();
    let mut first = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut first))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 404");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_flood_of_stalled_bodies_leaves_healthz_answering() {
    let app = spawn_app_with(|settings| {
        settings.server.body_timeout = Duration::from_secs(2);
        // All from 127.0.0.1 here: the per-client cap is tested below.
        settings.server.max_requests_per_client = std::num::NonZeroU32::new(1000).unwrap();
    })
    .await;
    let mut stalled = Vec::new();
    for n in 0..300 {
        let path = if n % 2 == 0 {
            "/webhooks/whatsapp/x"
        } else {
            "/admin/login"
        };
        stalled.push(stall(app.address, path).await);
    }
    // While all 300 hang, others are served.
    for _ in 0..5 {
        let response = tokio::time::timeout(Duration::from_secs(1), app.get("/healthz"))
            .await
            .expect("healthz answers within 1 s during the flood");
        assert_eq!(response.status(), 200);
    }
    let answers = futures_util::future::join_all(stalled.into_iter().map(read_to_close)).await;
    let count = |status: &str| answers.iter().filter(|a| a.starts_with(status)).count();
    assert_eq!(
        count("HTTP/1.1 408"),
        150,
        "every stalled sign-in got its 408"
    );
    assert_eq!(count("HTTP/1.1 404"), 150, "every unknown webhook its 404");
}

/// A stalled request as a client a trusted proxy forwarded from `client`.
async fn stall_from(address: std::net::SocketAddr, client: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /admin/login HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: {client}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\na"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_requests_and_others_are_served() {
    let app = spawn_app_with(|settings| {
        settings.server.body_timeout = Duration::from_secs(5);
        settings.server.max_requests_per_client = std::num::NonZeroU32::new(8).unwrap();
        settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let attacker = "203.0.113.9";
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(stall_from(app.address, attacker).await);
    }
    // Let the eight reach the server before the ninth.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = read_to_close(stall_from(app.address, attacker).await).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    // Another client is served meanwhile.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(held);
}

/// A flood of more stalled connections than the process may open files:
/// it never runs out of descriptors ("Too many open files", where not even
/// the database can open a file), keeps answering `/healthz` once stalled
/// bodies are cut, and still writes afterwards.
#[tokio::test]
async fn a_flood_beyond_the_open_file_limit_never_exhausts_the_descriptors() {
    let server = ServerProcess::start_with_open_files(
        256,
        &[
            ("FLOWHQ__SERVER__BODY_TIMEOUT", "2s"),
            ("FLOWHQ__SERVER__MAX_REQUESTS_PER_CLIENT", "10000"),
        ],
    )
    .await;
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let mut stalled = Vec::new();
    for _ in 0..400 {
        stalled.push(stall(address, "/admin/login").await);
    }
    let started = Instant::now();
    let healthz = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Ok(response) = server.client.get(server.url("/healthz")).send().await {
                return response.status();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("healthz answers while the flood lasts");
    assert_eq!(healthz, 200);
    drop(stalled);
    // The database still opens what it needs: an admin write succeeds.
    let created = server
        .admin(reqwest::Method::POST, "/api/admin/tenants")
        .json(&tenant_draft(1))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let log = server.log();
    assert!(
        !log.contains("Too many open files") && !log.contains("os error 24"),
        "descriptors ran out ({:?} after the flood began):\n{log}",
        started.elapsed()
    );
}
