//! Webhook endpoints through the tenant API (`/api/v1/webhooks…`) over real
//! HTTP, against a real receiver on loopback (wiremock): the same use cases
//! as the portal's JSON twin, each verb behind its scope (`webhooks:read`,
//! `webhooks:write`, refused by name), the secret shown once, a test event
//! signed for the Standard Webhooks verifier, the delivery log a page at a
//! time, "send again", rotation, deletion; a private URL refused at save
//! when the platform does not allow private targets.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{eventually, spawn_app, spawn_app_with};
use crate::tenant_api::{key_for, v1};

fn verify(secret: &str, request: &Request) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&request.body, &request.headers)
        .unwrap_or_else(|err| panic!("the Standard Webhooks verifier refused it: {err:?}"));
}

async fn received(server: &MockServer) -> Vec<(Request, Value)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            (request, body)
        })
        .collect()
}

#[tokio::test]
async fn a_key_manages_webhook_endpoints_and_their_deliveries_behind_its_scopes() {
    let app = spawn_app().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let id = app.new_tenant(1).await;
    let rw = key_for(&app, id, &["webhooks:read", "webhooks:write"]).await;
    let read_only = key_for(&app, id, &["webhooks:read"]).await;
    let other = key_for(&app, id, &["usage:read"]).await;

    let (status, made, _) = v1(
        &app,
        &rw,
        Method::POST,
        "/api/v1/webhooks",
        Some(&json!({ "url": format!("{}/hooks", server.uri()), "events": ["message.received"] })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(made["events"], json!(["message.received"]));
    let wid = made["id"].as_str().unwrap().to_owned();
    let one = format!("/api/v1/webhooks/{wid}");

    // Without the scope: 403 naming it, on every route.
    let read_routes = [
        (Method::GET, "/api/v1/webhooks".to_owned()),
        (Method::GET, one.clone()),
        (Method::GET, format!("{one}/attempts")),
    ];
    let write_routes = [
        (Method::POST, "/api/v1/webhooks".to_owned()),
        (Method::PATCH, one.clone()),
        (Method::DELETE, one.clone()),
        (Method::POST, format!("{one}/test")),
        (Method::POST, format!("{one}/rotate-secret")),
        (Method::POST, format!("{one}/events/1/resend")),
    ];
    for (key, scope, routes) in [
        (&other, "webhooks:read", &read_routes[..]),
        (&read_only, "webhooks:write", &write_routes[..]),
    ] {
        for (method, path) in routes {
            let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
            let (status, body, _) = v1(&app, key, method.clone(), path, body.as_ref(), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
            assert_eq!(body["error"], "insufficient_scope");
            assert!(
                body["message"].as_str().unwrap().contains(scope),
                "{method} {path}: {body}"
            );
        }
    }

    // Read: listed and shown, never with the secret.
    let (status, listed, _) = v1(
        &app,
        &read_only,
        Method::GET,
        "/api/v1/webhooks",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["items"][0]["id"], wid.as_str());
    let (status, shown, _) = v1(&app, &read_only, Method::GET, &one, None, None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    for body in [&listed, &shown] {
        assert!(!body.to_string().contains("whsec_"), "{body}");
    }

    // Update: what is given changes; bad input names its field.
    let (status, changed, _) = v1(
        &app,
        &rw,
        Method::PATCH,
        &one,
        Some(&json!({ "events": ["message.received", "message.sent"], "concurrency": 2 })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["events"],
        json!(["message.received", "message.sent"])
    );
    assert_eq!(
        (
            changed["concurrency"].as_i64(),
            changed["enabled"].as_bool()
        ),
        (Some(2), Some(true))
    );
    let (status, body, _) = v1(
        &app,
        &rw,
        Method::PATCH,
        &one,
        Some(&json!({ "concurrency": 9 })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["concurrency"].is_string(), "{body}");

    // Two test events arrive signed; the log pages by its cursor.
    let mut queued = Vec::new();
    for _ in 0..2 {
        let (status, body, _) =
            v1(&app, &rw, Method::POST, &format!("{one}/test"), None, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["event_type"], "webhook.test");
        queued.push(body);
    }
    let got = eventually("both test events", || async {
        let got = received(&server).await;
        (got.len() >= 2).then_some(got)
    })
    .await;
    for (request, body) in &got {
        verify(&secret, request);
        assert_eq!(body["type"], "webhook.test");
    }
    let log = format!("{one}/attempts");
    let (status, first, _) = eventually("two attempts logged", || async {
        let answer = v1(
            &app,
            &read_only,
            Method::GET,
            &format!("{log}?limit=1"),
            None,
            None,
        )
        .await;
        answer.1["next_cursor"].is_string().then_some(answer)
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["items"][0]["status_code"], 204, "{first}");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (status, second, _) = v1(
        &app,
        &read_only,
        Method::GET,
        &format!("{log}?limit=1&cursor={cursor}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second["next_cursor"].is_null(), "{second}");
    // Both test events, one per page (concurrency 2: in either order).
    let mut logged = vec![
        first["items"][0]["event"].clone(),
        second["items"][0]["event"].clone(),
    ];
    let mut wanted = vec![queued[0]["event"].clone(), queued[1]["event"].clone()];
    logged.sort_by_key(|e| e.as_i64());
    wanted.sort_by_key(|e| e.as_i64());
    assert_eq!(logged, wanted);

    // Send again: the same event id arrives once more.
    let event = queued[0]["event"].as_i64().unwrap();
    let (status, again, _) = v1(
        &app,
        &rw,
        Method::POST,
        &format!("{one}/events/{event}/resend"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["event_id"], queued[0]["event_id"]);
    let event_id = queued[0]["event_id"].as_str().unwrap().to_owned();
    eventually("the event sent again", || async {
        let got = received(&server).await;
        (got.iter()
            .filter(|(_, b)| b["id"] == event_id.as_str())
            .count()
            == 2)
            .then_some(())
    })
    .await;
    let (status, body, _) = v1(
        &app,
        &rw,
        Method::POST,
        &format!("{one}/events/999999/resend"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Rotation: a new secret, once; the next event verifies with it.
    let (status, rotated, _) = v1(
        &app,
        &rw,
        Method::POST,
        &format!("{one}/rotate-secret"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != secret, "{rotated}");
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );
    let (status, body, _) = v1(
        &app,
        &rw,
        Method::POST,
        &format!("{one}/rotate-secret"),
        Some(&json!({ "overlap_hours": 100000 })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let before = received(&server).await.len();
    let (status, _, _) = v1(&app, &rw, Method::POST, &format!("{one}/test"), None, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (request, _) = eventually("the test event after the rotation", || async {
        received(&server).await.into_iter().nth(before)
    })
    .await;
    verify(&new, &request);

    // Delete: gone; audited as the key.
    let (status, _, _) = v1(&app, &rw, Method::DELETE, &one, None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = v1(&app, &rw, Method::GET, &one, None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("webhook_not_found"))
    );
    let (_, audit) = app
        .api_get(&format!("/api/admin/audit?tenant_id={id}&per_page=100"))
        .await;
    let by_key: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["actor"]
                .as_str()
                .is_some_and(|a| a.starts_with("api_key:"))
        })
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for event in [
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.resent",
        "webhook.deleted",
    ] {
        assert!(by_key.contains(&event), "{event}: {by_key:?}");
    }
}

#[tokio::test]
async fn a_private_url_is_refused_through_the_api_when_the_platform_does_not_allow_it() {
    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = false).await;
    let id = app.new_tenant(1).await;
    let key = key_for(&app, id, &["webhooks:write"]).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
    ] {
        let (status, body, _) = v1(
            &app,
            &key,
            Method::POST,
            "/api/v1/webhooks",
            Some(&json!({ "url": url, "events": ["message.received"] })),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"], "validation_failed");
        assert!(body["fields"]["url"].is_string(), "{body}");
    }
}
