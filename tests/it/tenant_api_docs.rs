//! The tenant API's OpenAPI document and reference page: the document is
//! OpenAPI 3.1, reads back as one, resolves its references, and describes
//! exactly the routes the server answers under `/api/v1` (every method of
//! every path is tried on the real server); the reference page renders in
//! a real browser from the binary alone, under the strict CSP; and every
//! webhook event type has its body documented in the `webhooks` map.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Chromium, spawn_app};

/// Served but not part of the API itself.
const DOCUMENTATION: &[&str] = &["/api/v1/openapi.json", "/api/v1/docs"];

/// Every `/api/v1…` path registered in `src/web/api` (`resource("/v1…")`).
fn registered_v1_paths() -> BTreeSet<String> {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/api");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(api).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for piece in source.split("resource(\"").skip(1) {
            let route = piece.split('"').next().unwrap();
            if route == "/v1" || route.starts_with("/v1/") {
                found.insert(format!("/api{route}"));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_describes_exactly_the_routes_served() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();

    // OpenAPI 3.1, and it reads back as a document.
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&parsed).unwrap()["paths"],
        doc["paths"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    // Every reference resolves.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .map(move |(method, operation)| {
                    // Each operation says what it answers and which scope it needs.
                    assert!(
                        operation["responses"]
                            .as_object()
                            .is_some_and(|r| !r.is_empty()),
                        "{method} {path}"
                    );
                    assert!(
                        operation["security"][0]["api_key"].is_array(),
                        "{method} {path}: no scope"
                    );
                    (path.clone(), method.to_uppercase())
                })
        })
        .collect();
    let documented_paths: BTreeSet<String> = documented.iter().map(|(p, _)| p.clone()).collect();
    let registered: BTreeSet<String> = registered_v1_paths()
        .into_iter()
        .filter(|p| !DOCUMENTATION.contains(&p.as_str()))
        .collect();
    assert_eq!(
        registered, documented_paths,
        "routes in src/web/api vs paths in the document"
    );

    // On the real server: a documented method is there (and wants a key),
    // any other method of the path is not.
    for path in &registered {
        let concrete = path.replace("{id}", "1").replace("{event}", "1");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let response = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if documented.contains(&(path.clone(), method.to_owned())) {
                assert_eq!(
                    (status, body["error"].as_str()),
                    (StatusCode::UNAUTHORIZED, Some("api_key_missing")),
                    "{method} {path}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_webhook_event_type_has_a_documented_body() {
    use flowhq::services::webhooks::events::{EventType, TEST_EVENT_TYPE};
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let schema = |name: &str| -> Value {
        let name = name.strip_prefix("#/components/schemas/").unwrap();
        let schema = doc["components"]["schemas"][name].clone();
        assert!(schema.is_object(), "no schema {name}");
        schema
    };
    let types: Vec<&str> = EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .chain([TEST_EVENT_TYPE])
        .collect();
    assert_eq!(
        doc["webhooks"].as_object().unwrap().len(),
        types.len(),
        "{}",
        doc["webhooks"]
    );
    for name in types {
        let operation = &doc["webhooks"][name]["post"];
        assert!(operation["responses"].is_object(), "{name}");
        let headers: Vec<&str> = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            headers,
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        );
        let body = &operation["requestBody"]["content"]["application/json"]["schema"]["allOf"];
        let envelope = schema(body[0]["$ref"].as_str().unwrap());
        for field in ["id", "type", "version", "timestamp", "tenant_id", "data"] {
            assert!(
                envelope["properties"][field].is_object(),
                "{field}: {envelope}"
            );
        }
        assert_eq!(body[1]["properties"]["type"]["const"], name);
        let data = schema(body[1]["properties"]["data"]["$ref"].as_str().unwrap());
        let fields = data["properties"].as_object().unwrap();
        assert!(!fields.is_empty(), "{name}: {data}");
        // No secret is part of any event's body.
        assert!(
            fields.keys().all(|f| !f.contains("secret")),
            "{name}: {data}"
        );
    }
}

#[tokio::test]
async fn the_reference_page_renders_from_the_binary_under_the_strict_csp() {
    let app = spawn_app().await;
    let page = app.get("/api/v1/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    chromium.goto("/api/v1/docs").await;
    chromium
        .wait_until(
            "every operation listed",
            "document.querySelectorAll('.opblock').length >= 9 && document.body.innerText.includes('/api/v1/messages')",
        )
        .await;
    let refused: Vec<String> = chromium
        .console_log()
        .await
        .into_iter()
        .filter(|m| m.level == "SEVERE" || m.message.contains("Content Security Policy"))
        // The browser asks for a favicon by itself; the product has none.
        .filter(|m| !m.message.contains("/favicon.ico"))
        .map(|m| m.message)
        .collect();
    assert!(refused.is_empty(), "console errors: {refused:?}");
}
