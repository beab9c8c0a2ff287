//! Where a webhook delivery may go and what it reads back: redirects are
//! not followed, a name or address that is not public is refused when the
//! request is made (not only when the endpoint is saved), an answer is read
//! at most 64 KiB, and an event that runs out of attempts fails and flags
//! its endpoint. Each test drives the delivery worker itself; the app's own
//! worker sleeps.

use std::time::Duration;

use flowhq::services::webhooks::delivery::{self, Deliverer, DeliveryStats};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, spawn_app_with};
use crate::webhooks::{attempts, deliverer, endpoint, hooks, pending_event, receiver};

async fn app_with_a_sleeping_worker(retry_delays: Vec<Duration>) -> TestApp {
    spawn_app_with(move |s| {
        s.webhooks.poll_interval = Duration::from_secs(3600);
        s.webhooks.retry_delays = retry_delays;
        s.webhooks.timeout = Duration::from_secs(3);
    })
    .await
}

/// Claims the one due event and delivers it with `deliverer`.
async fn deliver_one(app: &TestApp, deliverer: &Deliverer) {
    let claimed = delivery::claim(app.db(), 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "one event due");
    let stats = DeliveryStats::default();
    for event in claimed {
        deliverer.deliver(event, &stats).await;
    }
}

/// The one attempt of the endpoint's log.
async fn only_attempt(app: &TestApp, tenant: Uuid, wid: &str) -> Value {
    let log = attempts(app, tenant, wid).await;
    assert_eq!(log.len(), 1, "{log:?}");
    log[0].clone()
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_attempt_fails() {
    let app = app_with_a_sleeping_worker(vec![Duration::from_secs(60)]).await;
    let elsewhere = receiver(200).await;
    let redirecting = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/x", elsewhere.uri())),
        )
        .mount(&redirecting)
        .await;
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(&app, tenant, &redirecting.uri(), &["message.received"]).await;
    pending_event(&app, tenant, &wid, "msg_redirect").await;

    deliver_one(&app, &deliverer(&app)).await;

    assert_eq!(redirecting.received_requests().await.unwrap().len(), 1);
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the redirect was followed"
    );
    let attempt = only_attempt(&app, tenant, &wid).await;
    assert_eq!(attempt["status_code"], 307, "{attempt}");
    assert_eq!(
        attempt["event_status"], "PENDING",
        "retried later: {attempt}"
    );
    assert!(
        attempt["error"].as_str().unwrap().contains("307"),
        "{attempt}"
    );
}

#[tokio::test]
async fn a_target_that_is_not_public_is_refused_when_delivering_by_name_or_by_address() {
    let app = app_with_a_sleeping_worker(vec![Duration::from_secs(60)]).await;
    let server = receiver(200).await;
    let port = server.address().port();
    let tenant = app.new_tenant(1).await;
    // Saved while the platform allowed private targets (the test default),
    // delivered by a worker that does not: a name that now resolves to
    // loopback (DNS rebinding), and a literal loopback address.
    let strict = Deliverer::new(
        app.db().clone(),
        app.state.master_key.clone(),
        flowhq::config::WebhooksSettings {
            allow_private_targets: false,
            ..app.state.settings.webhooks.clone()
        },
    )
    .unwrap();
    // https, as the strict platform requires: the request never gets as far
    // as a TLS handshake with the plain receiver.
    for (n, url) in [
        format!("https://localhost:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
    ]
    .iter()
    .enumerate()
    {
        let (wid, _) = endpoint(&app, tenant, url, &["message.received"]).await;
        pending_event(&app, tenant, &wid, &format!("msg_private_{n}")).await;
        deliver_one(&app, &strict).await;
        let attempt = only_attempt(&app, tenant, &wid).await;
        assert_eq!(attempt["status_code"], Value::Null, "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("not a public address"), "{url}: {error}");
        // Not delivered: tried again later, while the rule holds.
        assert_eq!(attempt["event_status"], "PENDING", "{attempt}");
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a request reached the private address"
    );
}

#[tokio::test]
async fn an_endless_answer_is_read_only_up_to_64_kib() {
    let app = app_with_a_sleeping_worker(vec![Duration::from_secs(60)]).await;
    // A receiver that answers 200 and then streams its body forever: read
    // without a cap, the attempt would run into the 3 s timeout and fail.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let streamed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = streamed.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 16 * 1024];
        let _ = socket.read(&mut request).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("1000\r\n{}\r\n", "a".repeat(4096));
        while socket.write_all(chunk.as_bytes()).await.is_ok() {
            counter.fetch_add(4096, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(
        &app,
        tenant,
        &format!("http://{address}/hook"),
        &["message.received"],
    )
    .await;
    pending_event(&app, tenant, &wid, "msg_endless").await;

    deliver_one(&app, &deliverer(&app)).await;

    let attempt = only_attempt(&app, tenant, &wid).await;
    assert_eq!(attempt["status_code"], 200, "{attempt}");
    assert_eq!(attempt["event_status"], "DELIVERED", "{attempt}");
    assert_eq!(attempt["error"], Value::Null, "{attempt}");
    assert!(
        attempt["duration_ms"].as_i64().unwrap() < 3000,
        "the answer was read until the timeout: {attempt}"
    );
    // The log keeps the first bytes only.
    assert_eq!(
        attempt["response"].as_str().unwrap().len(),
        delivery::LOGGED_RESPONSE_BYTES,
        "{attempt}"
    );
    // The connection was closed: the receiver can write no more (what it
    // wrote went into the kernel's socket buffers).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = streamed.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        streamed.load(std::sync::atomic::Ordering::Relaxed),
        written,
        "the receiver is still writing its answer"
    );
}

#[tokio::test]
async fn an_event_out_of_attempts_fails_and_flags_its_endpoint() {
    // One retry: the second failed attempt is the last.
    let app = app_with_a_sleeping_worker(vec![Duration::ZERO]).await;
    let server = receiver(500).await;
    let tenant = app.new_tenant(1).await;
    let (wid, _) = endpoint(&app, tenant, &server.uri(), &["message.received"]).await;
    pending_event(&app, tenant, &wid, "msg_out_of_attempts").await;
    let worker = deliverer(&app);

    deliver_one(&app, &worker).await;
    let (_, first) = app.api_get(&format!("{}/{wid}", hooks(tenant))).await;
    assert!(first["failing_since"].is_string(), "{first}");
    assert_eq!(
        first["flagged_at"],
        Value::Null,
        "not flagged while retrying: {first}"
    );

    deliver_one(&app, &worker).await;
    let log = attempts(&app, tenant, &wid).await;
    assert_eq!(log.len(), 2, "{log:?}");
    for attempt in &log {
        assert_eq!(attempt["status_code"], 500, "{attempt}");
        assert_eq!(attempt["event_status"], "FAILED", "{attempt}");
        assert!(attempt["attempted_at"].is_string(), "{attempt}");
        assert!(attempt["duration_ms"].as_i64().is_some(), "{attempt}");
    }
    assert_eq!(
        (log[0]["attempt"].as_i64(), log[1]["attempt"].as_i64()),
        (Some(2), Some(1)),
        "newest first: {log:?}"
    );
    let (_, flagged) = app.api_get(&format!("{}/{wid}", hooks(tenant))).await;
    assert!(flagged["flagged_at"].is_string(), "{flagged}");
    assert_eq!(flagged["enabled"], true, "flagged, not disabled: {flagged}");
    // Nothing is left to send.
    let due = delivery::claim(app.db(), 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(due.is_empty(), "a failed event was claimed again");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
