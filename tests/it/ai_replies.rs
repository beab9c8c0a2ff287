//! AI replies against a local OpenAI-compatible model server
//! (`helpers::ModelServer`), through the same client production uses: a
//! question nothing covers gets a grounded answer; an invented price, a
//! provider error, a slow answer or a malformed one fall back to the rule
//! answer (and say why, to the owner only); a structured handoff hands the
//! chat to a person; a burst is answered once; tokens are counted and the
//! monthly budget is kept.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, GENERIC, GROUNDED, INVENTED, ModelServer, PROVIDER_ERROR, TestApp, eventually,
    json_of, question_of, spawn_app_with,
};
use crate::knowledge::{CUSTOMER, ask, outbox, owner_with_bot, portal};

/// The salon's knowledge with AI on.
fn salon_with_ai() -> Value {
    json!({
        "facts": {"address": "Hauptstraße 5, 10115 Berlin"},
        "services": [
            {"name": "Haircut", "price": "25", "currency": "EUR", "duration_minutes": 30},
            {"name": "Colouring", "price": "49.90", "currency": "EUR", "duration_minutes": 90}
        ],
        "faq": [
            {"question": "Is there parking?", "triggers": ["parking"], "answer": "Yes, in the yard.", "language": "en"}
        ],
        "ai": {"enabled": true, "tone": "warm, short", "rules": ["Always offer a free trial session"]}
    })
}

async fn app_with_model(model: &ModelServer) -> TestApp {
    let base_url = model.base_url();
    spawn_app_with(move |settings| {
        settings.ai.base_url = base_url;
        settings.ai.timeout = Duration::from_millis(1500);
        settings.ai.burst_window = Duration::from_millis(700);
    })
    .await
}

async fn teach(browser: &Browser, knowledge: &Value) {
    let (status, body) = portal(browser, Method::PUT, "/api/portal/knowledge", knowledge).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn try_bot(browser: &Browser, text: &str) -> Value {
    let (status, body) = portal(
        browser,
        Method::POST,
        "/api/portal/try",
        &json!({"text": text}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The customer's conversation's messages, oldest first.
async fn thread(browser: &Browser) -> Vec<Value> {
    let (status, list) = json_of(browser.get("/api/portal/conversations").await).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let id = list["items"][0]["id"].clone();
    let (status, page) = json_of(
        browser
            .get(&format!("/api/portal/conversations/{id}/messages"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn usage(browser: &Browser) -> Value {
    let (status, body) = json_of(browser.get("/api/portal/usage").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn try_your_bot_answers_uncovered_questions_with_grounded_ai_and_catches_what_is_not() {
    let model = ModelServer::start().await;
    let app = app_with_model(&model).await;
    let (browser, _) = app.owner_browser("ai@salon.example").await;
    teach(&browser, &salon_with_ai()).await;

    // Covered questions never reach the model.
    let faq = try_bot(&browser, "Is there parking?").await;
    assert_eq!(faq["rule"], "faq", "{faq}");
    assert!(model.requests().await.is_empty());

    let grounded = try_bot(&browser, "Can you do hair for my wedding?").await;
    assert_eq!(grounded["rule"], "ai", "{grounded}");
    assert_eq!(grounded["detail"], "answer", "{grounded}");
    // (After the out-of-hours note on a weekend.)
    let replies = grounded["replies"].as_array().unwrap();
    assert_eq!(replies.last().unwrap(), GROUNDED, "{grounded}");
    // The model got the tenant's knowledge, profile and the question.
    let asked = model.requests().await;
    let system = asked[0]["messages"][0]["content"].as_str().unwrap();
    for expected in [
        "Haircut: 25.00 EUR",
        "Hauptstraße 5",
        "Tone: warm, short",
        "Always offer a free trial session",
    ] {
        assert!(system.contains(expected), "{expected:?} not in {system}");
    }
    assert_eq!(question_of(&asked[0]), "Can you do hair for my wedding?");
    assert_eq!(asked[0]["response_format"]["type"], "json_schema");

    let invented = try_bot(&browser, "Do you sell beard oil?").await;
    assert_eq!(invented["rule"], "help_menu", "{invented}");
    let note = invented["ai_note"].as_str().unwrap();
    assert!(note.contains("17"), "{note}");
    assert!(!invented["replies"].to_string().contains(INVENTED));

    let broken = try_bot(&browser, "Is the broken thing fixed?").await;
    assert_eq!(broken["rule"], "help_menu", "{broken}");
    assert_eq!(broken["detail"], "failed", "{broken}");
    assert!(!broken.to_string().contains(PROVIDER_ERROR), "{broken}");

    let started = std::time::Instant::now();
    let slow = try_bot(&browser, "Answer slowly please").await;
    assert_eq!(slow["detail"], "failed", "{slow}");
    assert!(
        slow["ai_note"].as_str().unwrap().contains("within"),
        "{slow}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout (1.5 s) ends the wait, not the model's 5 s"
    );

    let garbled = try_bot(&browser, "garbled?").await;
    assert_eq!(garbled["rule"], "help_menu", "{garbled}");
    assert!(
        garbled["ai_note"]
            .as_str()
            .unwrap()
            .contains("expected form")
    );

    // Tokens count: five answered requests (the slow one's too late to
    // count; the broken one failed) at 120 tokens each, at least.
    let used = usage(&browser).await;
    assert!(
        used["this_month"]["ai_tokens"].as_i64().unwrap() >= 3 * 120,
        "{used}"
    );
}

#[tokio::test]
async fn the_running_bot_answers_with_ai_records_it_and_hands_off_when_the_model_says_so() {
    let model = ModelServer::start().await;
    let app = app_with_model(&model).await;
    let (browser, tenant) = owner_with_bot(&app, "bot-ai@salon.example").await;
    teach(&browser, &salon_with_ai()).await;

    // First contact, then a question nothing covers.
    ask(&app, tenant, &browser, "Hello", "m1").await;
    let answer = ask(&app, tenant, &browser, "Can you do my wedding hair?", "m2").await;
    assert_eq!(answer, GROUNDED);
    let invented = ask(&app, tenant, &browser, "Any beard oil?", "m3").await;
    assert!(!invented.contains("17"), "{invented}");

    let messages = thread(&browser).await;
    let ai_of = |text: &str| {
        messages
            .iter()
            .find(|m| m["direction"] == "OUT" && m["text"].as_str().unwrap_or("").contains(text))
            .map(|m| m["ai"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(ai_of(GROUNDED)["outcome"], "answer", "{messages:?}");
    assert_eq!(ai_of(GROUNDED)["tokens_out"], 20);
    let held = messages
        .iter()
        .rev()
        .find(|m| m["direction"] == "OUT")
        .unwrap();
    assert_eq!(held["ai"]["outcome"], "held_back", "{held}");
    assert!(
        held["ai"]["note"].as_str().unwrap().contains("17"),
        "{held}"
    );
    // The inbox thread marks the AI's reply and says why one was held back.
    let (_, list) = json_of(browser.get("/api/portal/conversations").await).await;
    let page = browser
        .page(&format!("/portal/inbox/{}", list["items"][0]["id"]))
        .await;
    assert!(page.contains("badge-ai"), "{page}");
    assert!(page.contains("it named 17"), "{page}");
    // The model saw the conversation so far.
    let requests = model.requests().await;
    let last = requests.last().unwrap();
    let history = last["messages"].to_string();
    assert!(history.contains("wedding hair"), "{history}");

    let used = usage(&browser).await;
    assert_eq!(used["this_month"]["ai_tokens"], 240, "{used}");

    // The model hands a complaint to a person: the handoff answer, and
    // the chat needs a person.
    let handoff = ask(&app, tenant, &browser, "I want to complain", "m4").await;
    assert!(!handoff.is_empty());
    let requests = model.requests().await;
    assert_eq!(question_of(requests.last().unwrap()), "I want to complain");
    let (status, list) = json_of(browser.get("/api/portal/conversations").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["needs_human"], true, "{list}");
}

#[tokio::test]
async fn a_burst_of_messages_is_answered_once_in_order() {
    let model = ModelServer::start().await;
    let app = app_with_model(&model).await;
    let (browser, tenant) = owner_with_bot(&app, "burst@salon.example").await;
    teach(&browser, &salon_with_ai()).await;
    ask(&app, tenant, &browser, "Hello", "b0").await;
    let before = outbox(&browser).await.len();
    let requests_before = model.requests().await.len();

    for (i, text) in ["I have a question", "about my sister", "and her dog"]
        .iter()
        .enumerate()
    {
        let (status, body) = portal(
            &browser,
            Method::POST,
            "/api/portal/tenant/current/sandbox/inbound",
            &json!({"from": CUSTOMER, "text": text, "id": format!("b{}", i + 1)}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let sent = eventually("the burst's answer", || async {
        let sent = outbox(&browser).await;
        (sent.len() > before).then_some(sent)
    })
    .await;
    // Nothing more comes: one answer for three messages.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_after = outbox(&browser).await;
    assert_eq!(sent_after.len(), before + 1, "{sent_after:?}");
    assert_eq!(sent[before], GENERIC);
    let requests = model.requests().await;
    assert_eq!(requests.len(), requests_before + 1);
    assert_eq!(
        question_of(requests.last().unwrap()),
        "I have a question\nabout my sister\nand her dog"
    );
    // All three are answered (none left for a recovery to answer again).
    let messages = thread(&browser).await;
    let inbound: Vec<&Value> = messages.iter().filter(|m| m["direction"] == "IN").collect();
    assert!(
        inbound.iter().all(|m| m["status"] == "ANSWERED"),
        "{inbound:?}"
    );
}

#[tokio::test]
async fn at_the_monthly_token_budget_the_bot_answers_from_its_rules_only_and_the_owner_is_told() {
    let model = ModelServer::start().await;
    let sink = crate::helpers::SmtpSink::start().await;
    let (base_url, port) = (model.base_url(), sink.port());
    let app = spawn_app_with(move |settings| {
        settings.ai.base_url = base_url;
        settings.ai.timeout = Duration::from_millis(1500);
        settings.ai.burst_window = Duration::from_millis(700);
        settings.smtp.host = "127.0.0.1".to_owned();
        settings.smtp.port = port;
        settings.smtp.tls = flowhq::config::SmtpTls::None;
        settings.smtp.from = "Flow HQ <flowhq@example.com>".to_owned();
    })
    .await;
    let (browser, tenant) = owner_with_bot(&app, "budget@salon.example").await;
    teach(&browser, &salon_with_ai()).await;
    let (status, body) = app
        .api_call(
            Method::PUT,
            &format!("/api/admin/tenants/{tenant}/ai-budget"),
            Some(&json!({"monthly_tokens": 100})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["monthly_tokens"], 100);

    ask(&app, tenant, &browser, "Hello", "t0").await;
    let first = ask(&app, tenant, &browser, "What about a wedding?", "t1").await;
    assert_eq!(first, GROUNDED);
    let asked = model.requests().await.len();
    // 120 tokens used of 100: templates only now.
    let second = ask(&app, tenant, &browser, "And for a wedding party?", "t2").await;
    assert_ne!(second, GROUNDED);
    assert_eq!(
        model.requests().await.len(),
        asked,
        "the model is not asked"
    );
    let used = usage(&browser).await;
    assert_eq!(used["ai_budget_reached"], true, "{used}");
    assert_eq!(used["ai_tokens_limit"], 100, "{used}");
    let page = browser.get("/portal/usage").await.text().await.unwrap();
    assert!(page.contains("AI tokens are used up"), "{page}");
    // The owner is emailed once, however many questions follow.
    let mails = sink.wait_for(1).await;
    let told: Vec<_> = mails
        .iter()
        .filter(|m| m.subject().contains("AI tokens are used up"))
        .collect();
    assert_eq!(
        told.len(),
        1,
        "{:?}",
        mails.iter().map(|m| m.subject()).collect::<Vec<_>>()
    );
    assert!(told[0].text().contains("120 tokens"), "{}", told[0].text());
    ask(&app, tenant, &browser, "A wedding once more?", "t3").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = sink
        .received()
        .iter()
        .filter(|m| m.subject().contains("AI tokens are used up"))
        .count();
    assert_eq!(again, 1);
    // The admin sees it on the tenant's page.
    let admin = app.signed_in_browser().await;
    let page = admin.page(&format!("/admin/tenants/{tenant}")).await;
    assert!(page.contains("badge-ai_budget_reached"), "{page}");

    // A negative budget is refused.
    let (status, body) = app
        .api_call(
            Method::PUT,
            &format!("/api/admin/tenants/{tenant}/ai-budget"),
            Some(&json!({"monthly_tokens": -1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation_failed", "{body}");
}

#[tokio::test]
async fn ai_stays_off_without_a_platform_model_or_the_owners_consent() {
    let model = ModelServer::start().await;
    let app = app_with_model(&model).await;
    let (browser, _): (Browser, Uuid) = {
        let (browser, user) = app.owner_browser("off@salon.example").await;
        (browser, user.tenant_id.as_uuid())
    };
    let mut knowledge = salon_with_ai();
    knowledge["ai"]["enabled"] = json!(false);
    teach(&browser, &knowledge).await;
    let answer = try_bot(&browser, "Can you do my wedding hair?").await;
    assert_eq!(answer["rule"], "help_menu", "{answer}");
    assert!(model.requests().await.is_empty());

    // A platform without `[ai]`: the owner's switch has no effect, and
    // the page says so.
    let plain = crate::helpers::spawn_app().await;
    let (browser, _) = plain.owner_browser("noai@salon.example").await;
    teach(&browser, &salon_with_ai()).await;
    let answer = try_bot(&browser, "Can you do my wedding hair?").await;
    assert_eq!(answer["rule"], "help_menu", "{answer}");
    let page = browser.get("/portal/bot").await.text().await.unwrap();
    assert!(page.contains("ai-unavailable"), "{page}");
}
