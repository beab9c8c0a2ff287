//! What the bot knows, over the JSON API and a running bot: an owner's
//! facts, services and FAQ reach the running bot at once; questions it
//! could not answer are grouped and disappear once an FAQ entry answers
//! them; "try your bot" answers at a chosen time without logging; answers
//! are versioned; every route is scoped to its tenant.

use entity::{message_log, unanswered_question};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bots::{approve_always_open, start_and_link};
use crate::helpers::{Browser, Chromium, TestApp, eventually, json_of, spawn_app};

pub(crate) const CUSTOMER: &str = "+4917600000077";

/// What the salon of the "done when" tells its bot.
fn salon() -> Value {
    json!({
        "facts": {"address": "Hauptstraße 5, 10115 Berlin", "phone": "+49 30 1234567",
                  "extra": {"parking": "in the yard behind the salon"}},
        "services": [
            {"name": "Haircut", "description": "wash included", "price": "25", "currency": "EUR", "duration_minutes": 30},
            {"name": "Colouring", "price": 49.9, "currency": "EUR", "duration_minutes": 90},
            {"name": "Beard trim", "price": "12.00", "currency": "eur"}
        ],
        "faq": [
            {"question": "Is there parking?", "triggers": ["parking", "park"], "answer": "Yes: {parking}.", "language": "en"},
            {"question": "Do you take cards?", "triggers": ["card", "credit card"], "answer": "We take all cards.", "language": "en"}
        ]
    })
}

pub(crate) async fn portal(
    browser: &Browser,
    method: Method,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    json_of(
        browser
            .portal_json(method, path, body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A new owner whose sandbox bot runs, linked, open all week.
pub(crate) async fn owner_with_bot(app: &TestApp, email: &str) -> (Browser, Uuid) {
    let (browser, user) = app.owner_browser(email).await;
    let id = user.tenant_id.as_uuid();
    approve_always_open(app, id).await;
    start_and_link(app, id).await;
    (browser, id)
}

pub(crate) async fn outbox(browser: &Browser) -> Vec<String> {
    let (status, body) = json_of(
        browser
            .get("/api/portal/tenant/current/sandbox/outbox")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["to"] == CUSTOMER)
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The owner writes as a sandbox customer; waits for the bot's whole
/// answer (every part sent: none left QUEUED or SENDING).
pub(crate) async fn ask(
    app: &TestApp,
    tenant: Uuid,
    browser: &Browser,
    text: &str,
    id: &str,
) -> String {
    let before = outbox(browser).await.len();
    let (status, body) = portal(
        browser,
        Method::POST,
        "/api/portal/tenant/current/sandbox/inbound",
        &json!({"from": CUSTOMER, "text": text, "id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually(&format!("the answer to {text:?}"), || async {
        let sending = message_log::Entity::find()
            .filter(message_log::Column::TenantId.eq(tenant))
            .filter(message_log::Column::Status.is_in([
                entity::enums::MessageStatus::Received,
                entity::enums::MessageStatus::Queued,
                entity::enums::MessageStatus::Sending,
            ]))
            .count(app.db())
            .await
            .unwrap();
        let sent = outbox(browser).await;
        (sending == 0 && sent.len() > before).then(|| sent[before..].join("\n"))
    })
    .await
}

/// A question the tenant's bot could not answer, asked once now.
pub(crate) async fn record_unanswered(app: &TestApp, tenant: Uuid, key: &str, sample: &str) {
    unanswered_question::Entity::insert(unanswered_question::ActiveModel {
        tenant_id: sea_orm::Set(tenant),
        key: sea_orm::Set(key.to_owned()),
        sample: sea_orm::Set(sample.to_owned()),
        count: sea_orm::Set(1),
        first_at: sea_orm::Set(chrono::Utc::now()),
        last_at: sea_orm::Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
}

async fn unanswered(browser: &Browser) -> Vec<Value> {
    let (status, body) = json_of(browser.get("/api/portal/knowledge/unanswered").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_owner_teaches_the_running_bot_and_sees_what_it_could_not_answer() {
    let app = spawn_app().await;
    let (owner, id) = owner_with_bot(&app, "luna@salon.example").await;

    // Before: the built-in answer knows no prices.
    let before = ask(&app, id, &owner, "How much is a haircut?", "in-1").await;
    assert!(!before.contains("25.00"), "{before}");

    let (status, doc) = portal(&owner, Method::PUT, "/api/portal/knowledge", &salon()).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["services"][1]["price"], "49.90");
    assert_eq!(doc["services"][2]["currency"], "EUR");
    let (_, read) = json_of(owner.get("/api/portal/knowledge").await).await;
    assert_eq!(read, doc);

    // At once, on the running bot.
    let haircut = ask(&app, id, &owner, "How much is a haircut?", "in-2").await;
    assert!(
        haircut.contains("• Haircut: 25.00 EUR (30 min) – wash included"),
        "{haircut}"
    );
    assert!(!haircut.contains("Colouring"), "{haircut}");
    let location = ask(&app, id, &owner, "Where are you?", "in-3").await;
    assert!(
        location.contains("Hauptstraße 5, 10115 Berlin"),
        "{location}"
    );
    let parking = ask(&app, id, &owner, "Can I PARK there?", "in-4").await;
    assert_eq!(parking, "Yes: in the yard behind the salon.");

    // Twice the same question nothing covers, worded a little differently.
    let menu = ask(&app, id, &owner, "Do you sell gift vouchers?", "in-5").await;
    assert!(menu.contains("You can ask me about"), "{menu}");
    ask(&app, id, &owner, "do you sell GIFT vouchers", "in-6").await;
    let items = eventually("the question listed twice", || async {
        let items = unanswered(&owner).await;
        items
            .iter()
            .any(|q| q["key"] == "do you sell gift vouchers" && q["count"] == 2)
            .then_some(items)
    })
    .await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["text"], "do you sell GIFT vouchers");

    // An FAQ entry answers it from now on, and it leaves the list.
    let mut doc = salon();
    doc["faq"].as_array_mut().unwrap().push(json!({
        "question": "Do you sell gift vouchers?", "triggers": ["gift voucher"],
        "answer": "Yes, from 20 EUR, at the desk."
    }));
    let (status, body) = portal(&owner, Method::PUT, "/api/portal/knowledge", &doc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(unanswered(&owner).await.is_empty());
    let answered = ask(&app, id, &owner, "Do you sell gift vouchers?", "in-7").await;
    assert_eq!(answered, "Yes, from 20 EUR, at the desk.");
}

#[tokio::test]
async fn knowledge_with_mistakes_is_refused_naming_each_field() {
    let app = spawn_app().await;
    let id = app.new_tenant(1).await;
    let path = format!("/api/admin/tenants/{id}/knowledge");
    let (status, _) = app.api_call(Method::PUT, &path, Some(&salon())).await;
    assert_eq!(status, StatusCode::OK);
    let bad = json!({
        "facts": {"website": "not a url"},
        "services": [{"name": "Haircut", "price": "25.999", "currency": "EUR"},
                     {"name": "Cut", "price": 10}],
        "faq": [{"question": "Q", "triggers": [], "answer": "A"}],
        "answers": {"hours": {"en": "Open {when}"}}
    });
    let (status, body) = app.api_call(Method::PUT, &path, Some(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "validation_failed");
    for field in [
        "facts.website",
        "services[0].price",
        "services[1].currency",
        "faq[0].triggers",
        "answers.hours.en",
    ] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    assert!(
        body["fields"]["answers.hours.en"]
            .as_str()
            .unwrap()
            .contains("{when}")
    );
    // Nothing of it was kept.
    let (_, kept) = app.api_get(&path).await;
    assert_eq!(kept["services"][0]["price"], "25.00");
    assert_eq!(kept["facts"]["website"], "");
}

#[tokio::test]
async fn try_your_bot_answers_at_noon_and_at_night_without_sending_or_logging() {
    let app = spawn_app().await;
    // Monday to Friday 09:00–18:00, Berlin.
    let id = app.new_tenant(2).await;
    let (status, _) = app
        .api_call(
            Method::PUT,
            &format!("/api/admin/tenants/{id}/knowledge"),
            Some(&salon()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let try_at = |text: &'static str, at: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .api_post(
                    &format!("/api/admin/tenants/{id}/try"),
                    &json!({"text": text, "at": at}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    for at in ["2026-12-07T12:00", "2026-12-07T23:00"] {
        let night = at.ends_with("23:00");
        let prices = try_at("how much is a haircut?", at).await;
        assert_eq!(prices["rule"], "intent", "{prices}");
        assert_eq!(prices["detail"], "prices");
        assert_eq!(prices["open"], !night);
        let replies: Vec<&str> = prices["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(
            replies.last().unwrap().contains("• Haircut: 25.00 EUR"),
            "{prices}"
        );
        assert_eq!(
            replies[0].contains("open again on Tuesday at 09:00"),
            night,
            "{prices}"
        );
        let faq = try_at("is there parking?", at).await;
        assert_eq!(faq["rule"], "faq");
        assert_eq!(faq["detail"], "Is there parking?");
        let menu = try_at("do you like cats?", at).await;
        assert_eq!(menu["rule"], "help_menu");
        assert_eq!(menu["detail"], Value::Null);
    }
    let person = try_at("I want to talk to a human", "2026-12-07T23:00").await;
    let promise = person["replies"][0].as_str().unwrap();
    assert!(
        promise.contains("when we open on Tuesday at 09:00"),
        "{person}"
    );

    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/try"),
            &json!({"text": "hi", "at": "at noon"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["at"].is_string(), "{body}");

    // Nothing logged, nothing recorded as unanswered.
    let logged = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(logged, 0);
    let questions = unanswered_question::Entity::find()
        .filter(unanswered_question::Column::TenantId.eq(id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(questions, 0);
}

#[tokio::test]
async fn answers_are_reworded_checked_versioned_restored_and_reset() {
    let app = spawn_app().await;
    let id = app.new_tenant(3).await;
    let answer = format!("/api/admin/tenants/{id}/knowledge/answers/hours/en");
    let (status, body) = app
        .api_call(
            Method::PUT,
            &answer,
            Some(&json!({"text": "Open {whenever}"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["text"]
            .as_str()
            .unwrap()
            .contains("{whenever}"),
        "{body}"
    );
    for n in 1..=22 {
        let text = format!("Version {n}:\n{{hours}}");
        let (status, body) = app
            .api_call(Method::PUT, &answer, Some(&json!({ "text": text })))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let hours = |all: &Value| answer_of(all, "hours", "en");
    let (_, all) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge/answers"))
        .await;
    let current = hours(&all);
    assert_eq!(current["text"], "Version 22:\n{hours}");
    assert_eq!(current["default"], "Our opening hours:\n{hours}");
    let versions = current["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 20, "the last 20 are kept");
    assert_eq!(versions[0]["text"], "Version 22:\n{hours}");
    assert_eq!(versions[19]["text"], "Version 3:\n{hours}");

    // Restore version 5; the running text is version 5 (a new version).
    let v5 = versions[17]["id"].as_i64().unwrap();
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/knowledge/answers/versions/{v5}/restore"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["answers"]["hours"]["en"], "Version 5:\n{hours}");
    let (_, tried) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/try"),
            &json!({"text": "hours?", "at": "2026-12-07T12:00"}),
        )
        .await;
    assert!(
        tried["replies"][0]
            .as_str()
            .unwrap()
            .starts_with("Version 5:\nMonday: 09:00–18:00"),
        "{tried}"
    );

    // Reset to the default.
    let (status, body) = app.api_call(Method::DELETE, &answer, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["answers"], json!({}));
    let (_, all) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge/answers"))
        .await;
    let current = hours(&all);
    assert_eq!(current["text"], Value::Null);
    assert_eq!(
        current["versions"][0]["text"],
        Value::Null,
        "the reset is a version"
    );

    // No such answer or language: 404.
    for path in ["weather/en", "hours/xx"] {
        let (status, _) = app
            .api_call(
                Method::PUT,
                &format!("/api/admin/tenants/{id}/knowledge/answers/{path}"),
                Some(&json!({"text": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn the_welcome_answer_s_default_is_the_settings_welcome_message_it_falls_back_to() {
    let app = spawn_app().await;
    let id = app.new_tenant(4).await;
    let (status, body) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&json!({"welcome_message": "Hi, this is Salon Luna: how can we help?"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, all) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge/answers"))
        .await;
    for language in ["en", "de"] {
        let answer = answer_of(&all, "welcome", language);
        assert_eq!(
            answer["default"], "Hi, this is Salon Luna: how can we help?",
            "{answer}"
        );
        assert_eq!(answer["text"], Value::Null, "{answer}");
    }
    // The other answers keep their built-in defaults.
    let hours = answer_of(&all, "hours", "en");
    assert_eq!(hours["default"], "Our opening hours:\n{hours}");
}

/// The answer `key` in `language` of the answers list.
fn answer_of(all: &Value, key: &str, language: &str) -> Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key && a["language"] == language)
        .cloned()
        .unwrap_or_else(|| panic!("no answer {key}/{language}: {all}"))
}

#[tokio::test]
async fn another_tenants_knowledge_versions_and_questions_are_not_found() {
    let app = spawn_app().await;
    let (alice, a_user) = app.owner_browser("alice@alpha.example").await;
    let (bob, _) = app.owner_browser("bob@beta.example").await;
    let a = a_user.tenant_id.as_uuid();
    let (status, _) = portal(&alice, Method::PUT, "/api/portal/knowledge", &salon()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = portal(
        &alice,
        Method::PUT,
        "/api/portal/knowledge/answers/location/en",
        &json!({"text": "Alpha secret at {address}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answers) = json_of(alice.get("/api/portal/knowledge/answers").await).await;
    let version = answers
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["versions"][0]["id"].as_i64())
        .unwrap();
    record_unanswered(&app, a, "alpha secret question", "Alpha secret question?").await;
    let question = unanswered(&alice).await[0]["id"].as_i64().unwrap();

    // Bob's own routes show nothing of Alice's.
    for path in [
        "/api/portal/knowledge",
        "/api/portal/knowledge/answers",
        "/api/portal/knowledge/unanswered",
    ] {
        let body = bob
            .get(&format!("{path}?tenant_id={a}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!body.contains("Hauptstraße"), "{path}: {body}");
        assert!(!body.contains("Alpha secret"), "{path}: {body}");
    }
    let (status, body) = portal(
        &bob,
        Method::POST,
        "/api/portal/try",
        &json!({"text": "where are you?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.to_string().contains("Hauptstraße"), "{body}");
    // Alice's version and question by id: 404, and nothing changes.
    let (status, _) = portal(
        &bob,
        Method::POST,
        &format!("/api/portal/knowledge/answers/versions/{version}/restore"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = portal(
        &bob,
        Method::DELETE,
        &format!("/api/portal/knowledge/unanswered/{question}"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unanswered(&alice).await.len(), 1);
    let (_, bobs) = json_of(bob.get("/api/portal/knowledge").await).await;
    assert_eq!(bobs["answers"], json!({}));
    // Alice may dismiss her own.
    let (status, _) = portal(
        &alice,
        Method::DELETE,
        &format!("/api/portal/knowledge/unanswered/{question}"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Admin routes of a tenant that does not exist: 404.
    let nobody = Uuid::new_v4();
    for (method, path, body) in [
        (Method::GET, "knowledge", None),
        (Method::GET, "knowledge/answers", None),
        (Method::GET, "knowledge/unanswered", None),
        (Method::POST, "try", Some(json!({"text": "hi"}))),
        (Method::PUT, "knowledge", Some(salon())),
        (
            Method::PUT,
            "knowledge/answers/hours/en",
            Some(json!({"text": "hi"})),
        ),
    ] {
        let (status, body) = app
            .api_call(
                method.clone(),
                &format!("/api/admin/tenants/{nobody}/{path}"),
                body.as_ref(),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // And the admin API needs an admin.
    let (status, _) = json_of(bob.get(&format!("/api/admin/tenants/{a}/knowledge")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// On the Bot page in the browser: "Add a question", then the `n`th FAQ
/// row filled with `(question, triggers, answer)` as a person types them.
pub(crate) async fn add_faq(chromium: &Chromium, n: usize, entry: (&str, &str, &str)) {
    let (question, triggers, answer) = entry;
    chromium.click("#add-faq").await;
    let row = format!("#faq-list .faq-row:nth-child({n})");
    for (field, text) in [
        ("question", question),
        ("triggers", triggers),
        ("answer", answer),
    ] {
        chromium
            .type_into(&format!("{row} .faq-{field}"), text)
            .await;
    }
}

/// On the Bot page in the browser: "Save", then wait until it says so.
pub(crate) async fn save_knowledge(chromium: &Chromium) {
    chromium.click("#save-knowledge").await;
    chromium
        .wait_until(
            "saved",
            "document.getElementById('save-status').textContent.startsWith('Saved')",
        )
        .await;
}

/// The "done when", in a real browser: a new owner tells the bot
/// their address, three services and two FAQ entries, tries it at noon and
/// at 23:00, turns a question nothing covers into an FAQ entry and sees it
/// answered.
#[tokio::test]
async fn a_new_owner_teaches_the_bot_in_the_browser_and_tries_it_day_and_night() {
    let model = crate::helpers::ModelServer::start().await;
    let base_url = model.base_url();
    let app = crate::helpers::spawn_app_with(move |settings| {
        settings.ai.base_url = base_url;
    })
    .await;
    let Some(chromium) = crate::helpers::Chromium::launch(&app).await else {
        return;
    };
    chromium.sign_in_owner(&app, "nora@salon.example").await;
    chromium.goto("/portal/bot").await;
    chromium
        .wait_until(
            "the page filled",
            "document.documentElement.dataset.botReady === '1'",
        )
        .await;

    chromium
        .type_into("#fact-address", "Hauptstraße 5, 10115 Berlin")
        .await;
    let services = [
        ("Haircut", "25", "30"),
        ("Colouring", "49.90", "90"),
        ("Beard trim", "12", "15"),
    ];
    for (i, (name, price, minutes)) in services.iter().enumerate() {
        chromium.click("#add-service").await;
        let row = format!("#service-list .service-row:nth-child({})", i + 1);
        chromium
            .type_into(&format!("{row} .service-name"), name)
            .await;
        chromium
            .type_into(&format!("{row} .service-price"), price)
            .await;
        chromium
            .type_into(&format!("{row} .service-duration"), minutes)
            .await;
    }
    let faq = [
        (
            "Is there parking?",
            "parking, park",
            "Yes, in the yard behind the salon.",
        ),
        ("Do you take cards?", "card, cards", "We take all cards."),
    ];
    for (i, entry) in faq.into_iter().enumerate() {
        add_faq(&chromium, i + 1, entry).await;
    }
    save_knowledge(&chromium).await;

    let ask = |text: &'static str, at: &'static str| {
        let chromium = &chromium;
        async move {
            let n = chromium
                .js("return document.querySelectorAll('#try-log li').length + 1;")
                .await;
            chromium
                .js(&format!(
                    "document.getElementById('try-at').value = '{at}'; return null;"
                ))
                .await;
            chromium.type_into("#try-text", text).await;
            chromium.click("#try-send").await;
            let newest = "document.querySelector('#try-log li')";
            chromium
                .wait_until(
                    &format!("the answer to {text:?} at {at}"),
                    &format!("document.querySelectorAll('#try-log li').length === {n} && {newest}"),
                )
                .await;
            chromium
                .js(&format!(
                    "const li = {newest}; return {{rule: li.dataset.rule, text: li.innerText}};"
                ))
                .await
        }
    };
    // Monday 7 December 2026: open at noon, closed at 23:00.
    for at in ["2026-12-07T12:00", "2026-12-07T23:00"] {
        let night = at.ends_with("23:00");
        let prices = ask("how much is a haircut?", at).await;
        let text = prices["text"].as_str().unwrap();
        assert_eq!(prices["rule"], "intent", "{text}");
        assert!(
            text.contains("• Haircut: 25.00 EUR (30 min)"),
            "{at}: {text}"
        );
        assert!(!text.contains("Colouring"), "{at}: {text}");
        assert_eq!(
            text.contains("open again on Tuesday at 09:00"),
            night,
            "{at}: {text}"
        );

        let location = ask("where are you?", at).await;
        let text = location["text"].as_str().unwrap();
        assert_eq!(location["rule"], "intent", "{text}");
        assert!(text.contains("Hauptstraße 5, 10115 Berlin"), "{at}: {text}");

        let parking = ask("Is there parking nearby?", at).await;
        assert_eq!(parking["rule"], "faq", "{parking}");
        assert!(
            parking["text"].as_str().unwrap().contains("in the yard"),
            "{parking}"
        );

        let uncovered = ask("Do you do wedding hair?", at).await;
        let text = uncovered["text"].as_str().unwrap();
        assert_eq!(uncovered["rule"], "help_menu", "{text}");
        assert!(text.contains("You can ask me about"), "{at}: {text}");
    }

    // The uncovered question becomes an FAQ entry, from the answer itself.
    chromium.click("#try-log li:first-child .make-faq").await;
    let row = "#faq-list .faq-row:nth-child(3)";
    let prefilled = chromium
        .js(&format!(
            "return document.querySelector('{row} .faq-question').value;"
        ))
        .await;
    assert_eq!(prefilled, "Do you do wedding hair?");
    chromium
        .type_into(
            &format!("{row} .faq-answer"),
            "Yes! Book a trial two weeks before.",
        )
        .await;
    chromium.click("#save-knowledge").await;
    chromium
        .wait_until(
            "saved again",
            "document.getElementById('save-status').textContent.startsWith('Saved') \
             && document.querySelectorAll('#faq-list .faq-row').length === 3",
        )
        .await;
    for at in ["2026-12-07T12:00", "2026-12-07T23:00"] {
        let answered = ask("Do you do wedding hair?", at).await;
        assert_eq!(answered["rule"], "faq", "{answered}");
        assert!(
            answered["text"]
                .as_str()
                .unwrap()
                .contains("Book a trial two weeks before."),
            "{answered}"
        );
    }

    // With AI on (the test's model server), a question nothing covers
    // gets a grounded answer, and an invented price is caught.
    // (Scrolled to the middle: the sticky top bar would take the click.)
    chromium
        .js("const box = document.getElementById('ai-enabled'); \
             box.scrollIntoView({block: 'center'}); box.click(); return null;")
        .await;
    chromium.type_into("#ai-tone", "warm and short").await;
    chromium.click("#save-knowledge").await;
    chromium
        .wait_until(
            "saved with AI on",
            "document.getElementById('save-status').textContent.startsWith('Saved') \
             && document.getElementById('ai-enabled').checked",
        )
        .await;
    for at in ["2026-12-07T12:00", "2026-12-07T23:00"] {
        let grounded = ask("Any ideas for a wedding guest?", at).await;
        let text = grounded["text"].as_str().unwrap();
        assert_eq!(grounded["rule"], "ai", "{text}");
        assert!(text.contains(crate::helpers::GROUNDED), "{at}: {text}");
        assert!(text.contains("Answered by AI"), "{at}: {text}");

        let invented = ask("Do you sell beard oil?", at).await;
        let text = invented["text"].as_str().unwrap();
        assert_eq!(invented["rule"], "help_menu", "{text}");
        assert!(!text.contains(crate::helpers::INVENTED), "{at}: {text}");
        assert!(text.contains("You can ask me about"), "{at}: {text}");
        assert!(text.contains("it named 17"), "{at}: {text}");
    }
    chromium.screenshot("portal-bot").await;
    // And it is what the API says the bot knows.
    let (owner, _) = app.owner_browser("nora@salon.example").await;
    let (_, doc) = json_of(owner.get("/api/portal/knowledge").await).await;
    assert_eq!(doc["services"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(doc["services"][1]["price"], "49.90");
    assert_eq!(doc["faq"][2]["triggers"][0], "Do you do wedding hair?");
    assert_eq!(doc["ai"]["enabled"], true, "{doc}");
    assert_eq!(doc["ai"]["tone"], "warm and short", "{doc}");
    let violations: Vec<_> = chromium
        .console_log()
        .await
        .into_iter()
        .filter(|m| m.message.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

/// Rows of `tenant` in each knowledge table.
async fn knowledge_rows(app: &TestApp, tenant: Uuid) -> [u64; 3] {
    use entity::{knowledge_answer_version, tenant_knowledge};
    [
        tenant_knowledge::Entity::find()
            .filter(tenant_knowledge::Column::TenantId.eq(tenant))
            .count(app.db())
            .await
            .unwrap(),
        knowledge_answer_version::Entity::find()
            .filter(knowledge_answer_version::Column::TenantId.eq(tenant))
            .count(app.db())
            .await
            .unwrap(),
        unanswered_question::Entity::find()
            .filter(unanswered_question::Column::TenantId.eq(tenant))
            .count(app.db())
            .await
            .unwrap(),
    ]
}

#[tokio::test]
async fn deleting_a_tenant_removes_what_its_bot_knew_and_nothing_else() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in [4, 5] {
        let id = app.new_tenant(n).await;
        let (status, _) = app
            .api_call(
                Method::PUT,
                &format!("/api/admin/tenants/{id}/knowledge/answers/welcome/en"),
                Some(&json!({"text": "Hi from {business}"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        record_unanswered(&app, id, "cats", "Cats?").await;
        assert_eq!(knowledge_rows(&app, id).await, [1, 1, 1]);
        ids.push(id);
    }
    let (status, body) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tenants/{}", ids[0]),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(knowledge_rows(&app, ids[0]).await, [0, 0, 0]);
    assert_eq!(knowledge_rows(&app, ids[1]).await, [1, 1, 1]);
}

#[tokio::test]
async fn out_of_hours_the_bot_answers_and_its_note_leads_only_the_first_answer_of_a_chat() {
    let app = spawn_app().await;
    let (owner, id) = owner_with_bot(&app, "night@salon.example").await;
    // Closed every day, so the test does not depend on today's weekday.
    let (status, body) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&json!({ "hours": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = portal(&owner, Method::PUT, "/api/portal/knowledge", &salon()).await;
    assert_eq!(status, StatusCode::OK);

    let first = ask(&app, id, &owner, "How much is a haircut?", "night-1").await;
    assert!(
        first.starts_with("Thanks for your message! We are currently closed."),
        "{first}"
    );
    assert!(first.contains("• Haircut: 25.00 EUR"), "{first}");
    let noted = entity::conversation::Entity::find()
        .filter(entity::conversation::Column::TenantId.eq(id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(noted.out_of_hours_notice_at.is_some(), "{noted:?}");

    let second = ask(&app, id, &owner, "Where are you?", "night-2").await;
    assert!(!second.contains("closed"), "{second}");
    assert!(second.contains("Hauptstraße 5"), "{second}");
    // A person is promised for when the business opens, not now.
    let person = ask(&app, id, &owner, "I want to talk to a human", "night-3").await;
    assert!(person.contains("as soon as we are open again"), "{person}");
}

#[tokio::test]
async fn answers_reworded_at_the_same_moment_are_all_kept() {
    let app = spawn_app().await;
    let id = app.new_tenant(6).await;
    let keys = ["welcome", "hours", "prices", "status", "location"];
    let langs = ["en", "de"];
    let app = &app;
    let edits = keys.iter().flat_map(|key| {
        langs.iter().map(move |lang| async move {
            let (status, body) = app
                .api_call(
                    Method::PUT,
                    &format!("/api/admin/tenants/{id}/knowledge/answers/{key}/{lang}"),
                    Some(&json!({ "text": format!("{key} in {lang}") })),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{key}/{lang}: {body}");
        })
    });
    futures_util::future::join_all(edits).await;
    let (_, doc) = app
        .api_get(&format!("/api/admin/tenants/{id}/knowledge"))
        .await;
    for key in keys {
        for lang in langs {
            assert_eq!(
                doc["answers"][key][lang],
                format!("{key} in {lang}"),
                "{doc}"
            );
        }
    }
}
