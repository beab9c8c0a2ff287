use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::helpers::{ServerProcess, eventually, spawn_app, spawn_app_with};
use crate::slow_clients::read_to_close;

#[tokio::test]
async fn unknown_api_path_answers_json_with_a_stable_code_and_the_request_id() {
    let app = spawn_app().await;
    let response = app.get("/api/no/such/thing").await;

    assert_eq!(response.status(), 404);
    let header_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["request_id"], header_id.as_str());
    assert!(!header_id.is_empty());
}

#[tokio::test]
async fn unknown_page_answers_an_html_page_with_the_request_id() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("<!DOCTYPE html>"));
    assert!(page.contains(&request_id), "the page shows the request id");
}

#[tokio::test]
async fn each_request_gets_its_own_request_id() {
    let app = spawn_app().await;
    let first = app.get("/api/nope").await;
    let second = app.get("/api/nope").await;
    assert_ne!(
        first.headers()["x-request-id"],
        second.headers()["x-request-id"]
    );
}

#[tokio::test]
async fn the_stylesheet_is_served_with_long_cache_headers_for_get_and_head() {
    let app = spawn_app().await;
    let home = app.get("/").await.text().await.unwrap();
    let href = home
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .find(|href| href.starts_with("/static/") && href.contains(".css"))
        .expect("the page links a stylesheet")
        .to_owned();

    let response = app.get(&href).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(!response.text().await.unwrap().is_empty());

    let head = app.client.head(app.url(&href)).send().await.unwrap();
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_answers_405_not_404() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/logout"),
        (reqwest::Method::GET, "/auth/logout"),
        (reqwest::Method::POST, "/auth/google/login"),
        (reqwest::Method::POST, "/healthz"),
        (
            reqwest::Method::DELETE,
            "/api/admin/tenants/00000000-0000-0000-0000-000000000000/qr",
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn pages_and_json_are_never_cached_and_https_installs_ask_for_hsts() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let token_page = browser.get("/admin/tokens").await;
    assert_eq!(token_page.status(), 200);
    let api = app
        .api(reqwest::Method::GET, "/api/admin/tenants")
        .send()
        .await
        .unwrap();
    for (what, headers) in [
        ("admin page", token_page.headers()),
        ("admin API", api.headers()),
    ] {
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{what}: plain http"
        );
    }

    let app = spawn_app_with(|settings| {
        settings.server.public_url = Some("https://flowhq.example.com".parse().unwrap());
    })
    .await;
    let response = app.get("/healthz").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

/// Sends `request` as it is on a connection of its own and reads the
/// answer until the server closes the connection.
async fn raw_exchange(base: &str, request: &[u8]) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_close(stream).await
}

#[tokio::test]
async fn malformed_requests_are_refused_without_an_error_in_the_servers_log() {
    let server =
        ServerProcess::start_on_test_database(&[("FLOWHQ__TELEMETRY__FORMAT", "json")]).await;
    let huge_head = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    let malformed: [(&str, &[u8], &str); 4] = [
        ("not HTTP", b"\x00\x01\x02 hello\r\n\r\n", "HTTP/1.1 400"),
        (
            "a header line without a colon",
            b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            "a Content-Length that is no number",
            b"POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n",
            "HTTP/1.1 400",
        ),
        ("a 64 KiB head", huge_head.as_bytes(), "HTTP/1.1 4"),
    ];
    for (what, request, status) in malformed {
        let answer = raw_exchange(&server.base, request).await;
        assert!(answer.starts_with(status), "{what}: {answer:?}");
    }

    // A request after them all: once its access line is in the log, what
    // the malformed ones caused is there too (they closed before it began).
    let marker = format!("/after-the-malformed-{}", uuid::Uuid::new_v4());
    let response = server.client.get(server.url(&marker)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let log = eventually("the marker request in the log", || async {
        let log = server.log();
        log.contains(&marker).then_some(log)
    })
    .await;
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#))
        .collect();
    assert!(errors.is_empty(), "logged as errors: {errors:#?}");
}
