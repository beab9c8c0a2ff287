//! The console's "Bot" page of one tenant (`/admin/tenants/{id}/bot`): the
//! portal's page and script, for admins. The page needs the admin's
//! session; its script reads and writes `/api/admin/tenants/{id}/knowledge…`
//! on that session's cookie, where a write must be same-site JSON (as the
//! portal's), and what it changes is recorded as the admin's. The owner's
//! page and the JSON contract themselves are in `knowledge`.

use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Browser, TestApp, json_of, location, sign_in_as, spawn_app};
// A JSON write the way the page's script sends it: `application/json`,
// our own `Origin`, the browser's cookies.
use crate::knowledge::{add_faq, portal as script_write, record_unanswered, save_knowledge};

fn page_of(id: Uuid) -> String {
    format!("/admin/tenants/{id}/bot")
}

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
async fn the_console_bot_page_and_its_script_s_routes_need_an_admin_session() {
    let app = spawn_app().await;
    let (id, version, question) = taught_tenant(&app).await;
    let before = knowledge(&app, id).await;

    // Signed out: the page sends to the sign-in, the JSON is a 401.
    let stranger = app.browser();
    let response = stranger.get(&page_of(id)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/admin/login?next="),
        "{}",
        location(&response)
    );
    // A tenant's owner is no admin: not their own tenant's console page,
    // not the admin JSON with their portal cookie.
    let (owner, user) = app.owner_browser("olga@example.com").await;
    let own = user.tenant_id.as_uuid();
    let response = owner.get(&page_of(own)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for signed_out in [&stranger, &owner] {
        for tenant in [id, own] {
            let (status, body) = json_of(
                signed_out
                    .get(&format!("{}/knowledge", api_of(tenant)))
                    .await,
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            for (method, path, body) in writes(tenant, version, question) {
                let (status, answer) = script_write(signed_out, method.clone(), &path, &body).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}: {answer}"
                );
            }
        }
    }
    // Neither left a trace.
    assert_eq!(knowledge(&app, id).await, before);
    let (_, questions) = app
        .api_get(&format!("{}/knowledge/unanswered", api_of(id)))
        .await;
    assert_eq!(questions["items"].as_array().unwrap().len(), 1);

    // An admin: the page is the portal's, on this tenant's JSON, linked
    // from the tenant's page and leading back to it.
    let admin = app.signed_in_browser().await;
    let html = admin.page(&page_of(id)).await;
    assert!(
        html.contains(&format!(r#"data-api="/api/admin/tenants/{id}""#)),
        "{html}"
    );
    assert!(html.contains("/static/bot.js?v="), "{html}");
    assert!(html.contains(r#"id="try-form""#), "{html}");
    assert!(
        html.contains(&format!(r#"href="/admin/tenants/{id}""#)),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="sandbox-form""#),
        "portal-only: {html}"
    );
    let tenant_page = admin.page(&format!("/admin/tenants/{id}")).await;
    assert!(
        tenant_page.contains(&format!(r#"href="{}""#, page_of(id))),
        "{tenant_page}"
    );
    // And the owner's page is still on the owner's JSON.
    let html = owner.page("/portal/bot").await;
    assert!(html.contains(r#"data-api="/api/portal""#), "{html}");
    assert!(html.contains(r#"id="sandbox-form""#), "{html}");

    // A tenant that does not exist: 404, page and JSON.
    let nobody = Uuid::new_v4();
    let response = admin.get(&page_of(nobody)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("tenant_not_found"));
    let (status, body) = json_of(admin.get(&format!("{}/knowledge", api_of(nobody))).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = script_write(
        &admin,
        Method::PUT,
        &format!("{}/knowledge", api_of(nobody)),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
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

/// In a real browser: an admin opens a tenant's Bot page from the tenant's
/// page, adds an FAQ entry, and "Try your bot" answers with it; a built-in
/// answer reworded from the page is reset to its default from the page.
#[tokio::test]
async fn an_admin_teaches_a_tenants_bot_from_the_console_and_tries_it_in_the_browser() {
    let app = spawn_app().await;
    let Some(chromium) = crate::helpers::Chromium::launch(&app).await else {
        return;
    };
    let id = app.new_tenant(1).await;
    chromium.sign_in_admin(&app).await;
    chromium.goto(&format!("/admin/tenants/{id}")).await;
    chromium.click("#tenant-knowledge").await;
    chromium
        .wait_until(
            "the console's Bot page filled",
            "document.documentElement.dataset.botReady === '1'",
        )
        .await;
    assert_eq!(
        chromium.js("return location.pathname;").await,
        page_of(id).as_str()
    );

    add_faq(
        &chromium,
        1,
        (
            "Is there parking?",
            "parking, park",
            "Yes, in the yard behind the salon.",
        ),
    )
    .await;
    save_knowledge(&chromium).await;

    chromium
        .type_into("#try-text", "Is there parking nearby?")
        .await;
    chromium.click("#try-send").await;
    let answer = chromium
        .wait_until(
            "the bot's answer",
            "(() => { const li = document.querySelector('#try-log li'); \
             return li && {rule: li.dataset.rule, text: li.innerText}; })()",
        )
        .await;
    assert_eq!(answer["rule"], "faq", "{answer}");
    let text = answer["text"].as_str().unwrap();
    assert!(
        text.contains("Yes, in the yard behind the salon."),
        "{text}"
    );
    assert!(
        text.contains("Is there parking?"),
        "names the entry: {text}"
    );

    // The welcome answer reworded, then reset, with the row's buttons.
    // (Scrolled to the middle: the sticky top bar would take the click.)
    let press = |label: &'static str| {
        let chromium = &chromium;
        async move {
            chromium
                .js(&format!(
                    "const row = document.querySelector('.answer-text[data-key=\"welcome\"]')\
                     .closest('.answer-row'); \
                     const button = [...row.querySelectorAll('button')]\
                     .find(b => b.textContent === '{label}'); \
                     button.scrollIntoView({{block: 'center'}}); button.click(); return null;"
                ))
                .await
        }
    };
    chromium
        .js("document.querySelector('.answer-text[data-key=\"welcome\"]').value = ''; return null;")
        .await;
    chromium
        .type_into(
            ".answer-text[data-key=\"welcome\"]",
            "Welcome to {business}!",
        )
        .await;
    press("Save").await;
    let status = "document.querySelector('.answer-text[data-key=\"welcome\"]')\
                  .closest('.answer-row').querySelector('p.muted').textContent";
    chromium
        .wait_until("the wording kept", &format!("{status} === 'Your wording'"))
        .await;
    let doc = knowledge(&app, id).await;
    assert_eq!(
        doc["answers"]["welcome"]["en"], "Welcome to {business}!",
        "{doc}"
    );
    press("Reset to default").await;
    chromium
        .wait_until(
            "back to the default",
            &format!("{status} === 'Built-in default'"),
        )
        .await;
    let doc = knowledge(&app, id).await;
    assert_eq!(doc["answers"], json!({}), "{doc}");
    assert_eq!(doc["faq"][0]["question"], "Is there parking?", "{doc}");

    // Recorded as the admin's, and nothing the page did broke its CSP.
    // The document, the wording and the reset.
    assert_eq!(knowledge_actors(&app, id).await, ["admin:admin"; 3]);
    let violations: Vec<_> = chromium
        .console_log()
        .await
        .into_iter()
        .filter(|m| m.is_csp_violation())
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    chromium.screenshot("admin-bot").await;
}
