//! An admin's writes to `/api/admin/tenants/{id}/knowledge…` on the
//! console's session cookie (what a console page's script sends): they
//! must be same-site JSON (as the portal's), and what they change is
//! recorded as the admin's. The JSON contract itself is in `knowledge`.

use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Browser, TestApp, json_of, sign_in_as, spawn_app};
// A JSON write the way the page's script sends it: `application/json`,
// our own `Origin`, the browser's cookies.
use crate::knowledge::{portal as script_write, record_unanswered};

fn api_of(id: Uuid) -> String {
    format!("/api/admin/tenants/{id}")
}

/// Every write the page's script makes, with a body it accepts.
fn writes(id: Uuid, version: i64, question: i64) -> Vec<(Method, String, Value)> {
    let api = api_of(id);
    vec![
        (
            Method::PUT,
            format!("{api}/knowledge"),
            json!({"facts": {"address": "Forged Street 1"}}),
        ),
        (
            Method::POST,
            format!("{api}/try"),
            json!({"text": "where are you?"}),
        ),
        (
            Method::PUT,
            format!("{api}/knowledge/answers/welcome/en"),
            json!({"text": "Forged welcome"}),
        ),
        (
            Method::DELETE,
            format!("{api}/knowledge/answers/location/en"),
            json!({}),
        ),
        (
            Method::POST,
            format!("{api}/knowledge/answers/versions/{version}/restore"),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("{api}/knowledge/unanswered/{question}"),
            json!({}),
        ),
    ]
}

/// The tenant's knowledge as the API says (as the bootstrap admin).
async fn knowledge(app: &TestApp, id: Uuid) -> Value {
    let (status, doc) = app.api_get(&format!("{}/knowledge", api_of(id))).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// A tenant with a reworded location answer (one version) and a question
/// its bot could not answer.
async fn taught_tenant(app: &TestApp) -> (Uuid, i64, i64) {
    let id = app.new_tenant(1).await;
    let (status, body) = app
        .api_call(
            Method::PUT,
            &format!("{}/knowledge/answers/location/en", api_of(id)),
            Some(&json!({"text": "Find us at {address}."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, answers) = app
        .api_get(&format!("{}/knowledge/answers", api_of(id)))
        .await;
    let version = answers
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["versions"][0]["id"].as_i64())
        .expect("the reworded answer's version");
    record_unanswered(app, id, "wedding hair", "Do you do wedding hair?").await;
    let (_, questions) = app
        .api_get(&format!("{}/knowledge/unanswered", api_of(id)))
        .await;
    let question = questions["items"][0]["id"].as_i64().expect("the question");
    (id, version, question)
}

/// Who did each `knowledge.*` change of the tenant, oldest first.
async fn knowledge_actors(app: &TestApp, id: Uuid) -> Vec<String> {
    let (status, audit) = app
        .api_get(&format!("/api/admin/audit?tenant_id={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let mut actors: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["event_type"]
                .as_str()
                .is_some_and(|t| t.starts_with("knowledge."))
        })
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect();
    actors.reverse();
    actors
}

/// A browser signed in as a second admin, `ops` (the API helpers are the
/// bootstrap admin's, so what `ops` does is told apart in the audit).
async fn ops_browser(app: &TestApp) -> Browser {
    let password = "ops password 2026";
    flowhq::services::admins::create(app.db(), "ops", password)
        .await
        .unwrap();
    let browser = app.browser();
    let response = sign_in_as(&browser, "ops", password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "ops signs in");
    browser
}

#[tokio::test]
async fn the_console_script_s_writes_on_the_admin_cookie_must_be_same_site_json() {
    let app = spawn_app().await;
    let (id, version, question) = taught_tenant(&app).await;
    let before = knowledge(&app, id).await;
    let admin = ops_browser(&app).await;

    for (method, path, body) in writes(id, version, question) {
        let url = admin.url(&path);
        let refused = [
            (
                "as text",
                admin
                    .client
                    .request(method.clone(), &url)
                    .header(ORIGIN, admin.url(""))
                    .header(CONTENT_TYPE, "text/plain")
                    .body(body.to_string()),
            ),
            (
                "as a form",
                admin
                    .client
                    .request(method.clone(), &url)
                    .header(ORIGIN, admin.url(""))
                    .form(&[("text", "Forged")]),
            ),
            (
                "from another site",
                admin
                    .client
                    .request(method.clone(), &url)
                    .header(ORIGIN, "https://evil.example")
                    .json(&body),
            ),
            (
                "cross-site, without an Origin",
                admin
                    .client
                    .request(method.clone(), &url)
                    .header("sec-fetch-site", "cross-site")
                    .json(&body),
            ),
        ];
        for (how, request) in refused {
            let (status, answer) = json_of(request.send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} {how}: {answer}"
            );
            assert_eq!(answer["error"], "csrf_rejected", "{method} {path} {how}");
        }
    }
    // Nothing changed.
    assert_eq!(knowledge(&app, id).await, before);
    let (_, questions) = app
        .api_get(&format!("{}/knowledge/unanswered", api_of(id)))
        .await;
    assert_eq!(questions["items"].as_array().unwrap().len(), 1);

    // The same writes from the page itself go through, as the admin.
    for (method, path, body) in writes(id, version, question) {
        let (status, answer) = script_write(&admin, method.clone(), &path, &body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
    }
    let doc = knowledge(&app, id).await;
    assert_eq!(doc["facts"]["address"], "Forged Street 1", "{doc}");
    assert_eq!(doc["answers"]["welcome"]["en"], "Forged welcome", "{doc}");
    let (_, questions) = app
        .api_get(&format!("{}/knowledge/unanswered", api_of(id)))
        .await;
    assert_eq!(questions["items"], json!([]));
    // The owner's wording, made by the bootstrap admin with Basic
    // credentials, then the page's writes as `ops`: the document, a
    // wording, a reset and a restore.
    assert_eq!(
        knowledge_actors(&app, id).await,
        [
            "admin:admin",
            "admin:ops",
            "admin:ops",
            "admin:ops",
            "admin:ops"
        ]
    );
}
