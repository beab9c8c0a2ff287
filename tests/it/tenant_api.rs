//! The tenant API (`/api/v1`) over real HTTP: keys created by an owner in
//! the portal JSON and by admins, refused with stable codes, scopes; a
//! send through the tenant's bot with an idempotency key; reading back;
//! usage and the monthly quota at its limit; the knowledge document under
//! the portal's rules; and every route with another tenant's key.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bots::{customer_writes, linked_tenant};
use crate::helpers::{TestApp, eventually, spawn_app};

const CUSTOMER: &str = "+4917600000077";

/// A key of tenant `id` with `scopes`, made through the admin API.
pub(crate) async fn key_for(app: &TestApp, id: Uuid, scopes: &[&str]) -> String {
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/api-keys"),
            &json!({ "name": "shop", "scopes": scopes }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

pub(crate) const ALL: &[&str] = &[
    "messages:send",
    "conversations:read",
    "conversations:write",
    "knowledge:read",
    "knowledge:write",
    "webhooks:read",
    "webhooks:write",
    "usage:read",
];

pub(crate) async fn v1(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(idem) = idempotency_key {
        request = request.header("Idempotency-Key", idem);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn sandbox_outbox(app: &TestApp, id: Uuid) -> Vec<String> {
    let (_, body) = app
        .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
        .await;
    body.as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["to"] == CUSTOMER)
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_api_send_goes_out_through_the_bot_once_per_idempotency_key_and_reads_back() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let key = key_for(&app, id, &["messages:send", "usage:read"]).await;
    let body = json!({ "to": CUSTOMER, "text": "Your order has shipped." });

    let (status, first, headers) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&body),
        Some("order-1"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["status"], "QUEUED");
    let message_id = first["id"].as_i64().unwrap();
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/messages/{message_id}"));
    assert!(first["status_url"].as_str().unwrap().ends_with(&location));

    // The same key again: the first answer, nothing sent again.
    let (status, again, headers) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&body),
        Some("order-1"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(headers["idempotent-replayed"], "true");
    // The same key with another body: refused.
    let other = json!({ "to": CUSTOMER, "text": "Something else" });
    let (status, refused, _) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&other),
        Some("order-1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"], "idempotency_key_reused");

    let sent = eventually("the API message sent", || async {
        let (status, message, _) = v1(&app, &key, Method::GET, &location, None, None).await;
        assert_eq!(status, StatusCode::OK, "{message}");
        (message["status"] == "SENT").then_some(message)
    })
    .await;
    assert_eq!(sent["chat"], CUSTOMER);
    assert_eq!(sent["author"], "API key shop");
    assert_eq!(sent["text"], "Your order has shipped.");
    assert_eq!(sandbox_outbox(&app, id).await, ["Your order has shipped."]);

    // Counted; the conversation exists and stays with the bot.
    let (status, usage, _) = v1(&app, &key, Method::GET, "/api/v1/usage", None, None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["this_month"]["api_sends"], 1);
    assert_eq!(usage["messages_used"], 1);
    assert_eq!(usage["messages_limit"], 1000);
    assert_eq!(usage["plan"]["code"], "STARTER");
    assert_eq!(usage["quota_reached"], false);
    let (_, conversations) = app
        .api_get(&format!("/api/admin/tenants/{id}/conversations"))
        .await;
    assert_eq!(conversations["items"][0]["chat"], CUSTOMER);
    assert_eq!(conversations["items"][0]["mode"], "BOT");
}

#[tokio::test]
async fn keys_are_refused_with_stable_codes_and_a_missing_scope_is_named() {
    let app = spawn_app().await;
    let id = app.new_tenant(1).await;
    let key = key_for(&app, id, &["usage:read"]).await;
    let usage = "/api/v1/usage";

    let response = app.client.get(app.url(usage)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "api_key_missing");
    assert!(
        body["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );

    let forged = format!("{}x", &key[..key.len() - 1]);
    for (bad, code) in [
        (forged.as_str(), "api_key_invalid"),
        ("fhq_nope", "api_key_invalid"),
    ] {
        let (status, body, _) = v1(&app, bad, Method::GET, usage, None, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code)),
            "{body}"
        );
    }

    let (status, body, _) = v1(&app, &key, Method::GET, usage, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&json!({"to": CUSTOMER, "text": "hi"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    assert!(
        body["message"].as_str().unwrap().contains("messages:send"),
        "{body}"
    );

    // Listed without its secret; revoked, it stops at once.
    let (_, listed) = app
        .api_get(&format!("/api/admin/tenants/{id}/api-keys"))
        .await;
    let item = &listed["items"][0];
    assert!(key.starts_with(item["prefix"].as_str().unwrap()), "{item}");
    assert!(
        !listed.to_string().contains(&key[12..]),
        "the secret is never listed"
    );
    assert!(item["last_used_at"].is_string(), "{item}");
    let kid = item["id"].as_str().unwrap();
    let (status, body) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tenants/{id}/api-keys/{kid}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let (status, body, _) = v1(&app, &key, Method::GET, usage, None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_revoked"))
    );

    // An expiring key works until it expires.
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/api-keys"),
            &json!({ "name": "short", "scopes": ["usage:read"], "expires_at": expires }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let short = body["key"].as_str().unwrap().to_owned();
    let (status, _, _) = v1(&app, &short, Method::GET, usage, None, None).await;
    assert_eq!(status, StatusCode::OK);
    eventually("the key expired", || async {
        let (status, body, _) = v1(&app, &short, Method::GET, usage, None, None).await;
        (status == StatusCode::UNAUTHORIZED && body["error"] == "api_key_expired").then_some(())
    })
    .await;

    // Bad input names its field.
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/api-keys"),
            &json!({ "name": "", "scopes": ["root"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["name"].is_string() && body["fields"]["scopes"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn an_owner_manages_keys_in_the_portal_json_and_the_audit_trail_records_it() {
    let app = spawn_app().await;
    let (browser, _owner) = app.owner_browser("owner@shop.test").await;
    let (status, body) = crate::helpers::json_of(
        browser
            .portal_json(
                Method::POST,
                "/api/portal/api-keys",
                &json!({ "name": "n8n", "scopes": ["conversations:read"] }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("fhq_live_") && key.len() >= 9 + 43, "{key}");
    assert_eq!(body["scopes"], json!(["conversations:read"]));
    let kid = body["id"].as_str().unwrap().to_owned();

    let (status, listed) = crate::helpers::json_of(browser.get("/api/portal/api-keys").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("key").is_none(), "{listed}");

    let (status, page, _) = v1(&app, &key, Method::GET, "/api/v1/conversations", None, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"], json!([]));

    let (status, body) = crate::helpers::json_of(
        browser
            .portal_json(
                Method::DELETE,
                &format!("/api/portal/api-keys/{kid}"),
                &json!({}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = v1(&app, &key, Method::GET, "/api/v1/conversations", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, audit) = app.api_get("/api/admin/audit").await;
    let events: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(
        events.contains(&"api_key.created") && events.contains(&"api_key.revoked"),
        "{events:?}"
    );
}

#[tokio::test]
async fn sends_are_refused_without_a_running_bot_to_a_bad_number_and_at_the_monthly_limit() {
    let app = spawn_app().await;
    let idle = app.new_tenant(2).await;
    let idle_key = key_for(&app, idle, ALL).await;
    let hello = json!({ "to": CUSTOMER, "text": "hello" });
    let (status, body, _) = v1(
        &app,
        &idle_key,
        Method::POST,
        "/api/v1/messages",
        Some(&hello),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("bot_not_running")),
        "{body}"
    );

    let id = linked_tenant(&app, 1).await;
    let key = key_for(&app, id, ALL).await;
    let (status, body, _) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&json!({"to": "0151 123", "text": "hi"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["to"].is_string(), "{body}");

    // The month's 1,000 messages of the Starter plan: 999 used, one left.
    set_month_messages(&app, id, 999).await;
    let (status, body, _) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&hello),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body, headers) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&hello),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded")),
        "{body}"
    );
    let _ = headers;
    let (_, usage, _) = v1(&app, &key, Method::GET, "/api/v1/usage", None, None).await;
    assert_eq!(usage["quota_reached"], true, "{usage}");
    let (_, all) = app.api_get("/api/admin/usage").await;
    let row = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant_id"] == json!(id))
        .cloned()
        .unwrap();
    assert_eq!(row["quota_reached"], true, "{row}");

    // At the limit the bot answers no more on its own; the message is logged.
    customer_writes(&app, id, "+4917600000088", "hello?", "q-1").await;
    let thread = eventually("the message logged and left unanswered", || async {
        let (_, list) = app
            .api_get(&format!(
                "/api/admin/tenants/{id}/conversations?q=4917600000088"
            ))
            .await;
        let cid = list["items"][0]["id"].clone();
        if cid.is_null() {
            return None;
        }
        let (_, thread) = app
            .api_get(&format!(
                "/api/admin/tenants/{id}/conversations/{cid}/messages"
            ))
            .await;
        let items = thread["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .any(|m| m["status"] == "SKIPPED")
            .then_some(items)
    })
    .await;
    assert!(thread.iter().all(|m| m["direction"] == "IN"), "{thread:?}");

    // An admin moves the tenant to a larger plan (audited): sends resume.
    let (status, body) = app
        .api_call(
            Method::PUT,
            &format!("/api/admin/tenants/{id}/plan"),
            Some(&json!({ "plan": "PROFESSIONAL" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["monthly_messages"], 10000);
    let (status, body, _) = v1(
        &app,
        &key,
        Method::POST,
        "/api/v1/messages",
        Some(&hello),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = app
        .api_call(
            Method::PUT,
            &format!("/api/admin/tenants/{id}/plan"),
            Some(&json!({ "plan": "GOLD" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Sets the month's bot replies so that `messages` are used.
pub(crate) async fn set_month_messages(app: &TestApp, id: Uuid, messages: i64) {
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
    let month = flowhq::services::usage::month_key(chrono::Utc::now());
    let row = entity::usage_month::Entity::find_by_id((id, month.clone()))
        .one(app.db())
        .await
        .unwrap();
    match row {
        Some(row) => {
            let used = row.human_replies + row.api_sends;
            let mut row = row.into_active_model();
            row.bot_replies = Set(messages - used);
            row.update(app.db()).await.unwrap();
        }
        None => {
            entity::usage_month::ActiveModel {
                tenant_id: Set(id),
                month: Set(month),
                inbound: Set(0),
                bot_replies: Set(messages),
                human_replies: Set(0),
                api_sends: Set(0),
                ai_tokens: Set(0),
                warned_at: Set(None),
                quota_reached_at: Set(None),
            }
            .insert(app.db())
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn a_key_of_another_tenant_reads_and_sends_nothing_of_this_one() {
    let app = spawn_app().await;
    let a = linked_tenant(&app, 1).await;
    let b = linked_tenant(&app, 2).await;
    let key_a = key_for(&app, a, ALL).await;
    let key_b = key_for(&app, b, ALL).await;
    customer_writes(&app, a, CUSTOMER, "hello", "iso-1").await;
    let (status, sent, _) = v1(
        &app,
        &key_a,
        Method::POST,
        "/api/v1/messages",
        Some(&json!({"to": CUSTOMER, "text": "A's"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let mid = sent["id"].as_i64().unwrap();
    // A's knowledge, and a webhook endpoint with a queued event.
    let a_knowledge = json!({ "faq": [{ "question": "A's question", "triggers": ["secret"], "answer": "A's answer" }] });
    let (status, body, _) = v1(
        &app,
        &key_a,
        Method::PUT,
        "/api/v1/knowledge",
        Some(&a_knowledge),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, hook, _) = v1(
        &app,
        &key_a,
        Method::POST,
        "/api/v1/webhooks",
        Some(&json!({ "url": "http://127.0.0.1:9/a-hook", "events": ["message.received"] })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let wid = hook["id"].as_str().unwrap().to_owned();
    let (status, queued, _) = v1(
        &app,
        &key_a,
        Method::POST,
        &format!("/api/v1/webhooks/{wid}/test"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let event = queued["event"].as_i64().unwrap();
    let cid = eventually("A's conversation", || async {
        let (_, page, _) = v1(
            &app,
            &key_a,
            Method::GET,
            "/api/v1/conversations",
            None,
            None,
        )
        .await;
        page["items"][0]["id"].as_i64()
    })
    .await;

    // Every route under /api/v1 that names an object of A: 404 with B's key.
    let doc = serde_json::to_value(flowhq::web::api::v1::document()).unwrap();
    let routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    for method in ["put", "patch", "delete"] {
        assert!(routes.iter().any(|(m, _)| m == method), "{routes:?}");
    }
    for (method, template) in &routes {
        let names_an_object = template.contains("{id}");
        let id = if template.starts_with("/api/v1/messages/") {
            mid.to_string()
        } else if template.starts_with("/api/v1/webhooks/") {
            wid.clone()
        } else {
            cid.to_string()
        };
        let path = template
            .replace("{id}", &id)
            .replace("{event}", &event.to_string());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = match (method.as_str(), template.as_str()) {
            ("PUT", "/api/v1/knowledge") => {
                Some(json!({ "faq": [{ "question": "B's", "triggers": ["b"], "answer": "B's" }] }))
            }
            ("POST", "/api/v1/webhooks") => {
                Some(json!({ "url": "http://127.0.0.1:9/b-hook", "events": ["message.received"] }))
            }
            ("PATCH", _) => Some(json!({ "enabled": false, "url": "http://127.0.0.1:9/b-hook" })),
            ("POST", _) => Some(json!({ "to": CUSTOMER, "text": "B's" })),
            _ => None,
        };
        let body = body.filter(|_| !template.ends_with("/rotate-secret"));
        let (status, answer, _) =
            v1(&app, &key_b, method.clone(), &path, body.as_ref(), None).await;
        let text = answer.to_string();
        assert!(
            !text.contains("A's") && !text.contains("hello") && !text.contains("a-hook"),
            "{method} {path}: {text}"
        );
        if names_an_object {
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        } else {
            assert!(status.is_success(), "{method} {path}: {status} {text}");
        }
    }
    let (_, page, _) = v1(
        &app,
        &key_b,
        Method::GET,
        "/api/v1/conversations",
        None,
        None,
    )
    .await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["chat"] != CUSTOMER || c["preview"] == "B's"),
        "{page}"
    );
    // B's own send went to B's bot, never A's.
    assert!(sandbox_outbox(&app, a).await.iter().all(|t| t != "B's"));
    // Tenant ids in a query change nothing: the key is the tenant.
    let (_, usage_b, _) = v1(
        &app,
        &key_b,
        Method::GET,
        &format!("/api/v1/usage?tenant_id={a}"),
        None,
        None,
    )
    .await;
    assert_eq!(usage_b["this_month"]["inbound"], 0, "{usage_b}");
    // A's knowledge and endpoint are as A left them.
    let (_, kept, _) = v1(&app, &key_a, Method::GET, "/api/v1/knowledge", None, None).await;
    assert_eq!(kept["faq"][0]["answer"], "A's answer", "{kept}");
    assert_eq!(kept["faq"].as_array().unwrap().len(), 1, "{kept}");
    let (status, kept, _) = v1(
        &app,
        &key_a,
        Method::GET,
        &format!("/api/v1/webhooks/{wid}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(
        (kept["enabled"].as_bool(), kept["url"].as_str()),
        (Some(true), Some("http://127.0.0.1:9/a-hook"))
    );
    let (_, log, _) = v1(
        &app,
        &key_a,
        Method::GET,
        &format!("/api/v1/webhooks/{wid}/attempts"),
        None,
        None,
    )
    .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["event"] == event),
        "only A's own test event, never resent by B: {log}"
    );
}

/// Submits the portal's "Create key" form with `fields` (CSRF token
/// added); the new key as the answer page shows it, this once.
pub(crate) async fn key_made_on_the_portal_page(
    browser: &crate::helpers::Browser,
    fields: &[(&str, &str)],
) -> String {
    let page = browser.page("/portal/api-keys").await;
    let csrf = crate::helpers::csrf_of(&page);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let created = browser.post_form("/portal/api-keys/create", &form).await;
    assert_eq!(created.status(), StatusCode::OK);
    let created = created.text().await.unwrap();
    created
        .split("<code id=\"api-key\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no key on {created}"))
        .to_owned()
}

#[tokio::test]
async fn an_owner_creates_a_key_on_the_portal_page_uses_it_and_sees_usage_with_its_chart() {
    let app = spawn_app().await;
    let (browser, _owner) = app.owner_browser("owner@bakery.test").await;
    let page = browser.page("/portal/api-keys").await;
    assert!(
        page.contains("href=\"/portal/api-keys\""),
        "the nav links the page"
    );
    let csrf = crate::helpers::csrf_of(&page);

    // Without a scope: refused, with what was typed kept.
    let refused = browser
        .post_form(
            "/portal/api-keys/create",
            &[("csrf_token", csrf.as_str()), ("name", "Bakery shop")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("choose at least one scope") && refused.contains("Bakery shop"));

    let key = key_made_on_the_portal_page(
        &browser,
        &[
            ("name", "Bakery shop"),
            ("scope_usage_read", "on"),
            ("scope_conversations_read", "on"),
            ("expires_in_days", "30"),
        ],
    )
    .await;
    assert!(key.starts_with("fhq_live_"), "{key}");
    // Shown once: the list has its prefix only.
    let listed = browser.page("/portal/api-keys").await;
    assert!(
        !listed.contains(&key) && listed.contains(&key[..15]),
        "{listed}"
    );

    let (status, usage, _) = v1(&app, &key, Method::GET, "/api/v1/usage", None, None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let (status, conversations, _) = v1(
        &app,
        &key,
        Method::GET,
        "/api/v1/conversations?filter=needs_human",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{conversations}");

    let usage_page = browser.page("/portal/usage").await;
    assert!(
        usage_page.contains("<svg") && usage_page.contains("id=\"usage-chart\""),
        "{usage_page}"
    );
    assert_eq!(
        usage_page.matches("<g>").count(),
        30,
        "one bar group per day"
    );
    assert!(usage_page.contains("0 of 1000"), "{usage_page}");
}

/// Each key gets its plan's API requests a minute (STARTER: 60, all of
/// them at once as a burst), then 429 with `Retry-After`; another key,
/// of this tenant or another, has its own allowance.
#[tokio::test]
async fn a_key_beyond_its_plans_requests_a_minute_gets_429_with_retry_after() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let other_tenant = linked_tenant(&app, 2).await;
    let busy = key_for(&app, id, &["usage:read"]).await;
    let calm = key_for(&app, id, &["usage:read"]).await;
    let elsewhere = key_for(&app, other_tenant, &["usage:read"]).await;

    let mut served = 0;
    let mut refused = None;
    for _ in 0..80 {
        let (status, body, headers) =
            v1(&app, &busy, Method::GET, "/api/v1/usage", None, None).await;
        match status {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some((body, headers));
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (body, headers) = refused.expect("the 61st request of the minute is refused");
    // 60 at once; one more may have been earned while the test ran.
    assert!(
        (60..=62).contains(&served),
        "served {served} before the 429"
    );
    assert_eq!(body["error"], "rate_limited", "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");

    for key in [&calm, &elsewhere] {
        let (status, body, _) = v1(&app, key, Method::GET, "/api/v1/usage", None, None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "another key has its own allowance: {body}"
        );
    }
}

#[tokio::test]
async fn a_key_reads_and_replaces_the_knowledge_under_the_portals_rules() {
    let app = spawn_app().await;
    let id = app.new_tenant(1).await;
    let both = key_for(&app, id, &["knowledge:read", "knowledge:write"]).await;
    let read_only = key_for(&app, id, &["knowledge:read"]).await;
    let other = key_for(&app, id, &["usage:read"]).await;
    let path = "/api/v1/knowledge";

    // Each verb needs its scope, and the refusal names it.
    for (key, method, scope) in [
        (&other, Method::GET, "knowledge:read"),
        (&read_only, Method::PUT, "knowledge:write"),
    ] {
        let (status, body, _) = v1(&app, key, method, path, Some(&json!({})), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "insufficient_scope");
        assert!(body["message"].as_str().unwrap().contains(scope), "{body}");
    }

    let doc = json!({
        "facts": { "address": "Hauptstraße 5, 10115 Berlin", "extra": { "parking": "in the yard" } },
        "services": [{ "name": "Haircut", "price": "25", "currency": "EUR", "duration_minutes": 30 }],
        "faq": [{ "question": "Is there parking?", "triggers": ["parking"], "answer": "Yes: {parking}.", "language": "en" }],
        "answers": { "hours": { "en": "We open at 9. {hours}" } }
    });
    let (status, stored, _) = v1(&app, &both, Method::PUT, path, Some(&doc), None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["services"][0]["price"], "25.00", "{stored}");
    assert_eq!(stored["services"][0]["currency"], "EUR");
    // The same document as the admin's JSON twin reads.
    let (status, read, _) = v1(&app, &read_only, Method::GET, path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, stored);
    let (_, admin) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge"))
        .await;
    assert_eq!(admin, stored);
    // The reworded answer has a version.
    let (_, answers) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge/answers"))
        .await;
    assert!(
        answers.to_string().contains("We open at 9. {hours}"),
        "{answers}"
    );

    // An unknown placeholder: 422 naming the field and the placeholder; nothing kept.
    let mut bad = doc.clone();
    bad["answers"]["hours"]["en"] = json!("Open {when}");
    bad["services"][0]["price"] = json!("9.999");
    let (status, body, _) = v1(&app, &both, Method::PUT, path, Some(&bad), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation_failed");
    assert!(
        body["fields"]["answers.hours.en"]
            .as_str()
            .is_some_and(|m| m.contains("{when}")),
        "{body}"
    );
    assert!(body["fields"]["services[0].price"].is_string(), "{body}");
    let (_, kept, _) = v1(&app, &both, Method::GET, path, None, None).await;
    assert_eq!(kept, stored);

    // Audited as the key.
    let (_, audit) = app
        .api_get(&format!("/api/admin/audit?tenant_id={id}&per_page=100"))
        .await;
    assert!(
        audit["items"].as_array().unwrap().iter().any(|e| {
            e["event_type"] == "knowledge.updated"
                && e["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("api_key:"))
        }),
        "{audit}"
    );
}

/// Another replica's revocation reaches this one only through the database:
/// a key in constant use here, so always in this replica's cache, stops
/// working within the cache's TTL (1 s) of it, as it did when every cached
/// key was looked up again each second.
#[tokio::test]
async fn a_key_in_use_revoked_by_another_replica_stops_within_the_cache_ttl() {
    use entity::api_key;
    use flowhq::services::api_keys::CACHE_TTL;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use std::time::{Duration, Instant};

    let app = spawn_app().await;
    let id = app.new_tenant(1).await;
    let key = key_for(&app, id, &["usage:read"]).await;
    let usage = "/api/v1/usage";
    // In use for three times the TTL: served all along (at a pace well
    // inside the STARTER plan's 60 requests a minute).
    let until = Instant::now() + 3 * CACHE_TTL;
    while Instant::now() < until {
        let (status, body, _) = v1(&app, &key, Method::GET, usage, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Revoked as another process would: in the database only.
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(chrono::Utc::now()))
        .filter(api_key::Column::TenantId.eq(id))
        .exec(app.db())
        .await
        .unwrap();
    let revoked = Instant::now();
    loop {
        let (status, body, _) = v1(&app, &key, Method::GET, usage, None, None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["error"], "api_key_revoked", "{body}");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            revoked.elapsed() <= CACHE_TTL + Duration::from_secs(1),
            "still accepted {:?} after the revocation",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The conversation routes with a key of the tenant's own: the bot's
/// status, conversations and a thread a page at a time (the pages cover
/// every row once, a page never exceeds its limit), and take-over /
/// hand-back, which silence the bot and bring it back.
#[tokio::test]
async fn a_key_pages_the_conversations_takes_a_chat_over_hands_it_back_and_reads_the_status() {
    const OTHER: &str = "+4917600000078";
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    let key = key_for(&app, id, &["conversations:read", "conversations:write"]).await;
    let get = |path: String| {
        let (app, key) = (&app, &key);
        async move {
            let (status, body, _) = v1(app, key, Method::GET, &path, None, None).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            body
        }
    };

    let status = get("/api/v1/status".into()).await;
    assert_eq!(
        (
            status["tenant_status"].as_str(),
            status["bot_running"].as_bool(),
            status["transport"].as_str(),
            status["link"].as_str(),
        ),
        (Some("ACTIVE"), Some(true), Some("sandbox"), Some("linked")),
        "{status}"
    );

    for (n, text) in ["hello", "opening hours?", "prices?"].iter().enumerate() {
        customer_writes(&app, id, CUSTOMER, text, &format!("api-page-{n}")).await;
    }
    customer_writes(&app, id, OTHER, "hello", "api-page-other").await;
    let first_page = eventually("both chats listed", || async {
        let page = get("/api/v1/conversations".into()).await;
        (page["items"].as_array().map(Vec::len) == Some(2)).then_some(page)
    })
    .await;
    let cid = first_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chat"] == CUSTOMER)
        .unwrap()["id"]
        .clone();

    // Conversations one at a time: each once, then no cursor.
    let mut chats = Vec::new();
    let mut path = "/api/v1/conversations?limit=1".to_owned();
    loop {
        let page = get(path.clone()).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        chats.push(items[0]["chat"].as_str().unwrap().to_owned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/conversations?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    chats.sort();
    assert_eq!(chats, [CUSTOMER, OTHER]);

    // The thread two at a time, once the bot answered all three.
    let thread = format!("/api/v1/conversations/{cid}/messages");
    let all = eventually("three questions answered", || async {
        let items = get(format!("{thread}?limit=100")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        crate::inbox::settled(&items, 3).then_some(items)
    })
    .await;
    let mut paged = Vec::new();
    let mut path = format!("{thread}?limit=2");
    loop {
        let page = get(path.clone()).await;
        let items = page["items"].as_array().unwrap();
        assert!((1..=2).contains(&items.len()), "{page}");
        paged.extend(items.iter().map(|m| m["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{thread}?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    paged.sort_unstable();
    let mut ids: Vec<i64> = all.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(paged, ids, "the pages hold every message once");
    let (status, body, _) = v1(
        &app,
        &key,
        Method::GET,
        &format!("{thread}?cursor=not-a-cursor"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Take over: the bot stays silent in the chat; hand back: it answers.
    let (status, item, _) = v1(
        &app,
        &key,
        Method::POST,
        &format!("/api/v1/conversations/{cid}/take-over"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(
        (item["mode"].as_str(), item["mode_reason"].as_str()),
        (Some("HUMAN"), Some("taken_over")),
        "{item}"
    );
    customer_writes(&app, id, CUSTOMER, "anyone there?", "api-page-3").await;
    let items = eventually("the message left for a person", || async {
        let items = get(format!("{thread}?limit=100")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .any(|m| m["status"] == "SKIPPED")
            .then_some(items)
    })
    .await;
    assert_eq!(items.len(), all.len() + 1, "the bot answered a taken chat");
    let (status, item, _) = v1(
        &app,
        &key,
        Method::POST,
        &format!("/api/v1/conversations/{cid}/hand-back"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["mode"], "BOT", "{item}");
    customer_writes(&app, id, CUSTOMER, "opening hours?", "api-page-4").await;
    eventually("the bot answering again", || async {
        let items = get(format!("{thread}?limit=100")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (crate::inbox::settled(&items, 5) && items.last()?["author"] == "bot").then_some(())
    })
    .await;

    // A key that may only read cannot switch.
    let reader = key_for(&app, id, &["conversations:read"]).await;
    let (status, body, _) = v1(
        &app,
        &reader,
        Method::POST,
        &format!("/api/v1/conversations/{cid}/take-over"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
