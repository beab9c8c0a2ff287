//! Tenants through the admin surface: create (JSON and form, with their
//! validation and conflicts), edit, delete, and the list's search, filter
//! and pages. The JSON API and the HTML forms must agree.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::enums::{Direction, MessageStatus, TenantStatus};
use entity::{tenant_config, whatsapp_session, worker_process};
use flowhq::domain::language::Language;
use flowhq::domain::lifecycle::status_name;
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, Iterable, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Form, TestApp, datalist_of, error_near, flash_of, hours_form, id_of, input_has, input_value,
    is_checked, location, phone, selected_option, spawn_app, tenant_draft, tenant_form,
    textarea_text, with_field,
};

/// The tenant ids the page links to (`/admin/tenants/{id}`), in order, once each.
fn tenant_links(html: &str) -> Vec<Uuid> {
    let mut seen = Vec::new();
    for (at, _) in html.match_indices("href=\"/admin/tenants/") {
        let rest = &html[at + "href=\"/admin/tenants/".len()..];
        let Some(id) = rest.get(..36).and_then(|id| id.parse::<Uuid>().ok()) else {
            continue;
        };
        if rest[36..].starts_with('"') && !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

/// The tenant id in a `/admin/tenants/{id}` redirect.
fn tenant_in(location: &str) -> Uuid {
    location
        .strip_prefix("/admin/tenants/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a tenant page: {location}"))
}

async fn tenant_count(app: &TestApp) -> u64 {
    let (status, list) = app.api_get("/api/admin/tenants").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["total"].as_u64().unwrap()
}

/// The ids listed by `GET /api/admin/tenants?{query}`, and the total.
async fn listed(app: &TestApp, query: &str) -> (Vec<Uuid>, u64) {
    let (status, page) = app.api_get(&format!("/api/admin/tenants?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    let ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    (ids, page["total"].as_u64().unwrap())
}

/// The config as stored, without what differs between two tenants anyway.
fn comparable_config(tenant: &Value) -> Value {
    let mut config = tenant["config"].clone();
    let map = config.as_object_mut().unwrap();
    for key in ["tenant_id", "created_at", "updated_at"] {
        map.remove(key);
    }
    config
}

/// The edit form of the detail page, filled with a new configuration.
fn edit_form(draft: &Value, hours: &Value) -> Form {
    let mut fields = tenant_form(draft);
    fields.retain(|(key, _)| !key.starts_with("hours_"));
    fields.extend(hours_form(hours));
    fields.extend([
        (
            "welcome_message".to_owned(),
            "Bonjour, ici le salon.".to_owned(),
        ),
        ("response_delay_ms".to_owned(), "300".to_owned()),
        ("max_message_length".to_owned(), "1000".to_owned()),
    ]);
    // auto_reply is a checkbox left unticked: absent means false.
    fields
}

/// One invalid create request: the field at fault, the bad JSON draft, the
/// form typing the same, the control its error belongs next to, and the
/// value that must be kept in that control (None for selects).
struct Invalid {
    field: &'static str,
    draft: Value,
    form: Form,
    control: &'static str,
    typed: Option<&'static str>,
}

fn invalid_cases() -> Vec<Invalid> {
    let base = tenant_draft(7);
    let bad = |field: &'static str, value: &'static str, typed: bool| {
        let mut draft = base.clone();
        draft[field] = json!(value);
        Invalid {
            field,
            form: with_field(tenant_form(&base), field, value),
            draft,
            control: field,
            typed: typed.then_some(value),
        }
    };
    let mut no_name = base.clone();
    no_name.as_object_mut().unwrap().remove("name");
    let mut late_hours = base.clone();
    late_hours["hours"] = json!({"mon": {"open": "09:00", "close": "18:00"},
                                 "tue": {"open": "18:00", "close": "09:00"}});
    vec![
        Invalid {
            field: "name",
            // A browser sends the emptied input.
            form: with_field(tenant_form(&base), "name", ""),
            draft: no_name,
            control: "name",
            typed: None,
        },
        bad("phone_number", "12345", true),
        bad("template_type", "CAFE", false),
        bad("language", "xx", false),
        bad("timezone", "Mars/Olympus", true),
        Invalid {
            field: "hours",
            form: tenant_form(&late_hours),
            draft: late_hours,
            control: "hours_tue_open",
            typed: Some("18:00"),
        },
    ]
}

#[tokio::test]
async fn creating_a_tenant_via_json_answers_201_with_complete_defaults() {
    let app = spawn_app().await;
    let draft = json!({
        "name": "Friseur Schmidt",
        "phone_number": "+49 151 2345-6789",
        "template_type": "BOOKING",
        "business_name": "Friseur Schmidt",
        "language": "de",
        "timezone": "Europe/Berlin",
    });

    let created = app.create_tenant(&draft).await;

    assert_eq!(created["name"], "Friseur Schmidt");
    assert_eq!(created["phone_number"], "+4915123456789");
    assert_eq!(created["status"], "NEW");
    let config = &created["config"];
    assert_eq!(config["template_type"], "BOOKING");
    assert_eq!(config["language"], "de");
    assert_eq!(config["timezone"], "Europe/Berlin");
    assert_eq!(config["max_message_length"], 4096);
    assert_eq!(config["auto_reply"], true);
    assert_eq!(config["transport"], "sandbox");
    let welcome = config["welcome_message"].as_str().unwrap();
    assert_eq!(
        welcome,
        Language::De.default_welcome_message("Friseur Schmidt"),
        "the welcome message is in the tenant's language"
    );
    assert_ne!(
        welcome,
        Language::En.default_welcome_message("Friseur Schmidt")
    );
    let office = json!({"open": "09:00", "close": "18:00"});
    assert_eq!(
        config["hours"],
        json!({"mon": office, "tue": office, "wed": office, "thu": office, "fri": office,
               "sat": null, "sun": null})
    );
    assert_eq!(created["session"]["state"], "DISCONNECTED");
    assert_eq!(created["worker"]["status"], "STOPPED");
    assert_eq!(app.tenant(id_of(&created)).await, created);

    // Without a time zone the tenant runs on UTC.
    let mut draft = tenant_draft(2);
    draft.as_object_mut().unwrap().remove("timezone");
    let created = app.create_tenant(&draft).await;
    assert_eq!(created["config"]["timezone"], "UTC");
}

#[tokio::test]
async fn creating_a_tenant_via_the_form_redirects_to_its_page_which_shows_it() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let form_page = browser.page("/admin/tenants/new").await;
    for field in ["name", "phone_number", "business_name", "timezone"] {
        assert!(
            input_value(&form_page, field).is_some(),
            "the form has {field}"
        );
    }
    let draft = tenant_draft(1);

    let response = browser.submit("/admin/tenants", &tenant_form(&draft)).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = tenant_in(&location(&response));
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    let (kind, message) = flash_of(&page).expect("a flash on the tenant's page");
    assert_eq!(kind, "success");
    assert!(message.contains("created"), "{message}");
    assert!(page.contains("Salon 1"));
    assert!(page.contains(&phone(1)));
    assert!(page.contains("NEW"));
    let stored = app.tenant(id).await;
    assert_eq!(stored["name"], "Salon 1");
    assert_eq!(stored["status"], "NEW");
}

#[tokio::test]
async fn each_invalid_field_is_answered_422_with_its_message_under_fields_in_json() {
    let app = spawn_app().await;
    for case in invalid_cases() {
        let (status, body) = app.api_post("/api/admin/tenants", &case.draft).await;

        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            case.field
        );
        assert_eq!(body["error"], "validation_failed", "{}", case.field);
        let message = body["fields"][case.field].as_str();
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "fields.{} in {body}",
            case.field
        );
        assert_eq!(
            body["fields"].as_object().unwrap().len(),
            1,
            "only {} is wrong: {body}",
            case.field
        );
    }
    assert_eq!(tenant_count(&app).await, 0, "nothing was created");
}

#[tokio::test]
async fn each_invalid_field_in_the_form_is_answered_422_with_the_typed_values_and_the_error_next_to_it()
 {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    for case in invalid_cases() {
        let (_, json_error) = app.api_post("/api/admin/tenants", &case.draft).await;
        let expected = json_error["fields"][case.field]
            .as_str()
            .unwrap()
            .to_owned();

        let response = browser.submit("/admin/tenants", &case.form).await;

        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            case.field
        );
        let html = response.text().await.unwrap();
        let (kind, _) = flash_of(&html).expect("a summary at the top");
        assert_eq!(kind, "error", "{}", case.field);
        let error = error_near(&html, case.control)
            .unwrap_or_else(|| panic!("no error text near {}: {html}", case.control));
        assert!(
            error.contains(&expected),
            "{}: the error next to the field is {error:?}, the API says {expected:?}",
            case.field
        );
        if let Some(typed) = case.typed {
            assert_eq!(
                input_value(&html, case.control).as_deref(),
                Some(typed),
                "{}: what was typed is kept",
                case.field
            );
        }
        // Every other field keeps what was typed too.
        assert_eq!(
            input_value(&html, "business_name").as_deref(),
            Some("Salon 7 GmbH"),
            "{}",
            case.field
        );
        if case.field != "name" {
            assert_eq!(
                input_value(&html, "name").as_deref(),
                Some("Salon 7"),
                "{}",
                case.field
            );
        }
        if case.field != "phone_number" {
            assert_eq!(
                input_value(&html, "phone_number").as_deref(),
                Some(phone(7).as_str()),
                "{}",
                case.field
            );
        }
    }
    assert_eq!(tenant_count(&app).await, 0, "nothing was created");
}

#[tokio::test]
async fn a_duplicate_phone_number_is_answered_409_phone_number_taken_in_json_and_in_the_form() {
    let app = spawn_app().await;
    app.create_tenant(&tenant_draft(1)).await;
    let mut copy = tenant_draft(2);
    // The same number, typed differently.
    copy["phone_number"] = json!("0049 151 0000 0001");

    let (status, body) = app.api_post("/api/admin/tenants", &copy).await;

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "phone_number_taken");

    let browser = app.signed_in_browser().await;
    let response = browser.submit("/admin/tenants", &tenant_form(&copy)).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let html = response.text().await.unwrap();
    assert_eq!(input_value(&html, "name").as_deref(), Some("Salon 2"));
    let error = error_near(&html, "phone_number").expect("an error next to the phone number");
    assert!(!error.is_empty());
    assert_eq!(tenant_count(&app).await, 1);
}

#[tokio::test]
async fn updating_a_tenant_via_patch_changes_its_config_and_get_shows_it() {
    let app = spawn_app().await;
    let id = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let hours = json!({"mon": {"open": "08:00", "close": "12:00"}, "tue": null, "wed": null,
                       "thu": null, "fri": null, "sat": {"open": "10:00", "close": "14:00"},
                       "sun": null});
    let change = json!({
        "business_name": "Salon Lumière",
        "language": "fr",
        "timezone": "Europe/Paris",
        "hours": hours,
        "welcome_message": "Bonjour !",
        "auto_reply": false,
        "response_delay_ms": 300,
        "max_message_length": 1000,
    });

    let (status, updated) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&change),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{updated}");
    let stored = app.tenant(id).await;
    assert_eq!(stored, updated);
    let config = &stored["config"];
    for key in [
        "business_name",
        "language",
        "timezone",
        "hours",
        "welcome_message",
        "auto_reply",
        "response_delay_ms",
        "max_message_length",
    ] {
        assert_eq!(config[key], change[key], "{key}");
    }
    assert_eq!(
        stored["name"], "Salon 1",
        "fields left out stay as they were"
    );
    assert_eq!(config["template_type"], "BOOKING");

    let (status, refused) = app
        .api_call(
            Method::PATCH,
            &format!("/api/admin/tenants/{id}"),
            Some(&json!({"max_message_length": 99999, "name": "Ignored"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["fields"]["max_message_length"].is_string());
    assert_eq!(
        app.tenant(id).await,
        stored,
        "a refused edit changes nothing"
    );
}

#[tokio::test]
async fn updating_a_tenant_via_the_form_changes_its_config_and_get_shows_it() {
    let app = spawn_app().await;
    let id = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let browser = app.signed_in_browser().await;
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    assert_eq!(input_value(&page, "name").as_deref(), Some("Salon 1"));
    assert!(is_checked(&page, "auto_reply"), "auto-reply starts on");
    let mut draft = tenant_draft(1);
    draft["language"] = json!("fr");
    draft["template_type"] = json!("SUPPORT");
    let hours = json!({"mon": {"open": "08:00", "close": "12:00"}, "sat": {"open": "10:00", "close": "14:00"}});

    let response = browser
        .submit(&format!("/admin/tenants/{id}"), &edit_form(&draft, &hours))
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/admin/tenants/{id}"));
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    let (kind, message) = flash_of(&page).expect("a flash after saving");
    assert_eq!(kind, "success");
    assert!(message.contains("Saved"), "{message}");
    let config = app.tenant(id).await["config"].clone();
    assert_eq!(config["language"], "fr");
    assert_eq!(config["template_type"], "SUPPORT");
    assert_eq!(config["welcome_message"], "Bonjour, ici le salon.");
    assert_eq!(config["auto_reply"], false, "an unticked checkbox is false");
    assert_eq!(config["response_delay_ms"], 300);
    assert_eq!(config["max_message_length"], 1000);
    assert_eq!(
        config["hours"],
        json!({"mon": {"open": "08:00", "close": "12:00"}, "tue": null, "wed": null,
               "thu": null, "fri": null, "sat": {"open": "10:00", "close": "14:00"}, "sun": null})
    );
    // The form shows what is stored now.
    assert_eq!(
        input_value(&page, "max_message_length").as_deref(),
        Some("1000")
    );
    assert_eq!(selected_option(&page, "language").as_deref(), Some("fr"));
    assert_eq!(
        textarea_text(&page, "welcome_message").as_deref(),
        Some("Bonjour, ici le salon.")
    );
    assert!(!is_checked(&page, "auto_reply"));

    // A bad value is shown again with its error, and nothing is saved.
    let bad = with_field(edit_form(&draft, &hours), "max_message_length", "5");
    let response = browser.submit(&format!("/admin/tenants/{id}"), &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert_eq!(
        input_value(&html, "max_message_length").as_deref(),
        Some("5")
    );
    assert!(error_near(&html, "max_message_length").is_some_and(|e| e.contains("160")));
    assert_eq!(app.tenant(id).await["config"]["max_message_length"], 1000);
}

/// Asserts the tenant and every row provisioned with it are gone.
async fn assert_gone(app: &TestApp, id: Uuid) {
    let (status, body) = app.api_get(&format!("/api/admin/tenants/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "tenant_not_found");
    let db = app.db();
    let config = tenant_config::Entity::find_by_id(id).one(db).await.unwrap();
    let session = whatsapp_session::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap();
    let worker = worker_process::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap();
    assert!(config.is_none() && session.is_none() && worker.is_none());
}

#[tokio::test]
async fn deleting_a_tenant_via_json_answers_204_and_removes_it_with_its_rows() {
    let app = spawn_app().await;
    let doomed = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let kept = id_of(&app.create_tenant(&tenant_draft(2)).await);

    let (status, body) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tenants/{doomed}"),
            None,
        )
        .await;

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_gone(&app, doomed).await;
    app.tenant(kept).await;
    let (status, again) = app
        .api_call(
            Method::DELETE,
            &format!("/api/admin/tenants/{doomed}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(again["error"], "tenant_not_found");
}

#[tokio::test]
async fn deleting_a_tenant_via_the_form_redirects_to_the_list_and_removes_it() {
    let app = spawn_app().await;
    let id = id_of(&app.create_tenant(&tenant_draft(1)).await);
    let browser = app.signed_in_browser().await;
    let confirm = browser.page(&format!("/admin/tenants/{id}/delete")).await;
    assert!(
        confirm.contains("Salon 1"),
        "the confirmation names the tenant"
    );

    let response = browser
        .submit(&format!("/admin/tenants/{id}/delete"), &[])
        .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/tenants");
    let list = browser.page("/admin/tenants").await;
    let (kind, message) = flash_of(&list).expect("a flash after deleting");
    assert_eq!(kind, "success");
    assert!(message.contains("deleted"), "{message}");
    assert!(!tenant_links(&list).contains(&id));
    assert_gone(&app, id).await;
}

#[tokio::test]
async fn the_same_create_through_json_and_through_the_form_stores_the_same_config() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;
    let draft = |n: u32| {
        json!({
            "name": "Tienda Sol",
            "phone_number": phone(n),
            "template_type": "ECOMMERCE",
            "business_name": "Tienda Sol S.L.",
            "language": "es",
            "timezone": "America/New_York",
            "hours": {"mon": {"open": "08:30", "close": "12:00"}, "tue": null,
                      "wed": {"open": "10:00", "close": "20:00"}, "thu": null, "fri": null,
                      "sat": {"open": "09:00", "close": "13:00"}, "sun": null},
        })
    };

    let via_json = app.create_tenant(&draft(1)).await;
    let response = browser
        .submit("/admin/tenants", &tenant_form(&draft(2)))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let via_form = app.tenant(tenant_in(&location(&response))).await;

    assert_eq!(comparable_config(&via_form), comparable_config(&via_json));
    for key in ["name", "status", "plan"] {
        assert_eq!(via_form[key], via_json[key], "{key}");
    }
    assert_eq!(via_form["session"]["state"], via_json["session"]["state"]);
    assert_eq!(via_form["worker"]["status"], via_json["worker"]["status"]);
}

#[tokio::test]
async fn the_list_finds_tenants_by_a_name_fragment_and_by_a_phone_fragment() {
    let app = spawn_app().await;
    let make = |name: &str, number: &str, n: u32| {
        let mut draft = tenant_draft(n);
        draft["name"] = json!(name);
        draft["phone_number"] = json!(number);
        draft
    };
    let aurora = id_of(
        &app.create_tenant(&make("Salon Aurora", "+4915100000001", 1))
            .await,
    );
    let bruno = id_of(
        &app.create_tenant(&make("Bakery Bruno", "+4930111222333", 2))
            .await,
    );
    let _central = id_of(
        &app.create_tenant(&make("Café Central", "+431555000111", 3))
            .await,
    );

    assert_eq!(listed(&app, "q=AURO").await, (vec![aurora], 1));
    assert_eq!(listed(&app, "q=111222").await, (vec![bruno], 1));
    assert_eq!(listed(&app, "q=nothing-like-this").await, (vec![], 0));
    assert_eq!(listed(&app, "").await.1, 3);

    let browser = app.signed_in_browser().await;
    let page = browser.page("/admin/tenants?q=auro").await;
    assert_eq!(tenant_links(&page), vec![aurora]);
    assert_eq!(input_value(&page, "q").as_deref(), Some("auro"));
    let page = browser.page("/admin/tenants?q=111222").await;
    assert_eq!(tenant_links(&page), vec![bruno]);
}

#[tokio::test]
async fn the_list_filters_by_status() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(id_of(&app.create_tenant(&tenant_draft(n)).await));
    }
    app.set_tenant_status(ids[1], TenantStatus::Paused).await;

    assert_eq!(listed(&app, "status=PAUSED").await, (vec![ids[1]], 1));
    assert_eq!(listed(&app, "status=NEW").await.1, 2);
    assert_eq!(listed(&app, "status=ACTIVE").await, (vec![], 0));

    let browser = app.signed_in_browser().await;
    let page = browser.page("/admin/tenants?status=PAUSED").await;
    assert_eq!(tenant_links(&page), vec![ids[1]]);
    assert_eq!(selected_option(&page, "status").as_deref(), Some("PAUSED"));
    let page = browser.page("/admin/tenants?status=NEW").await;
    let mut shown = tenant_links(&page);
    shown.sort();
    let mut new = vec![ids[0], ids[2]];
    new.sort();
    assert_eq!(shown, new);
}

#[tokio::test]
async fn the_list_pages_through_30_tenants_10_at_a_time_without_overlap() {
    let app = spawn_app().await;
    let mut created = BTreeSet::new();
    for n in 1..=30 {
        created.insert(id_of(&app.create_tenant(&tenant_draft(n)).await));
    }
    let browser = app.signed_in_browser().await;

    let mut seen_api = BTreeSet::new();
    let mut seen_html = BTreeSet::new();
    for page in 1..=3 {
        let (status, body) = app
            .api_get(&format!("/api/admin/tenants?per_page=10&page={page}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 30);
        assert_eq!(body["page"], page);
        assert_eq!(body["per_page"], 10);
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 10, "page {page}");
        for item in items {
            assert!(seen_api.insert(id_of(item)), "page {page} repeats {item}");
        }

        let html = browser
            .page(&format!("/admin/tenants?per_page=10&page={page}"))
            .await;
        let links = tenant_links(&html);
        assert_eq!(links.len(), 10, "page {page} of the HTML list");
        seen_html.extend(links);
    }
    assert_eq!(seen_api, created);
    assert_eq!(seen_html, created);
    let (status, past) = app.api_get("/api/admin/tenants?per_page=10&page=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["total"], 30);
}

/// Logs a message for the tenant as the bot runtime would, `minutes_ago` old.
async fn log_message(app: &TestApp, tenant: Uuid, text: &str, minutes_ago: i64) {
    entity::message_log::ActiveModel {
        tenant_id: Set(tenant),
        direction: Set(Direction::In),
        chat_id: Set("4915199999999".into()),
        sender: Set("+4915199999999".into()),
        recipient: Set("bot".into()),
        text: Set(text.into()),
        wa_message_id: Set(None),
        status: Set(MessageStatus::Received),
        error: Set(None),
        created_at: Set(Utc::now() - chrono::Duration::minutes(minutes_ago)),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_tenants_message_log_is_listed_newest_first_in_the_api_and_on_its_page() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let other = app.new_tenant(2).await;
    log_message(&app, tenant, "oldest question", 30).await;
    log_message(&app, tenant, "middle question", 20).await;
    log_message(&app, tenant, "newest question", 10).await;
    log_message(&app, other, "someone else's question", 5).await;

    let (status, logs) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/logs?per_page=2"))
        .await;

    assert_eq!(status, StatusCode::OK, "{logs}");
    assert_eq!(logs["total"], 3);
    let texts: Vec<&str> = logs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["newest question", "middle question"]);
    let page = app
        .signed_in_browser()
        .await
        .page(&format!("/admin/tenants/{tenant}"))
        .await;
    for text in ["oldest question", "middle question", "newest question"] {
        assert!(page.contains(text), "the tenant's page shows {text:?}");
    }
    assert!(
        !page.contains("someone else"),
        "only this tenant's messages"
    );
}

#[tokio::test]
async fn the_dashboard_links_counts_to_the_filtered_list_and_lists_tenants_in_error() {
    let app = spawn_app().await;
    let broken = app.new_tenant(1).await;
    let fine = app.new_tenant(2).await;
    app.set_tenant_status(broken, TenantStatus::Error).await;
    app.set_tenant_status(fine, TenantStatus::Active).await;
    let waiting = app.new_tenant(3).await;
    app.submit_setup_request(waiting, &phone(3)).await;

    let page = app.signed_in_browser().await.page("/admin").await;

    for status in TenantStatus::iter() {
        let link = format!("href=\"/admin/tenants?status={}\"", status_name(status));
        assert!(page.contains(&link), "a link to the {status:?} tenants");
    }
    assert!(
        page.contains("href=\"/admin/setup-requests"),
        "the waiting requests are linked"
    );
    assert!(
        tenant_links(&page).contains(&broken),
        "tenants in ERROR are listed"
    );
}

#[tokio::test]
async fn the_time_zone_field_offers_every_iana_zone_and_only_a_new_form_may_take_the_browsers() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser().await;

    let new = browser.page("/admin/tenants/new").await;
    let zones = datalist_of(&new, "timezone");
    assert_eq!(zones.len(), chrono_tz::TZ_VARIANTS.len(), "every zone");
    for zone in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"] {
        assert!(zones.iter().any(|z| z == zone), "{zone} is offered");
    }
    assert_eq!(input_value(&new, "timezone").as_deref(), Some("UTC"));
    assert!(input_has(&new, "timezone", "data-browser-zone"));
    assert!(
        new.contains("/static/zone.js?v="),
        "the script that does it"
    );

    // tenant_draft's zone is Europe/Berlin: the edit form shows it, for good.
    let id = app.new_tenant(8).await;
    let edit = browser.page(&format!("/admin/tenants/{id}")).await;
    assert_eq!(
        input_value(&edit, "timezone").as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(datalist_of(&edit, "timezone"), zones);
    assert!(
        !input_has(&edit, "timezone", "data-browser-zone"),
        "a stored zone"
    );

    // A refused form comes back as typed, not to be replaced either.
    let typed = with_field(tenant_form(&tenant_draft(9)), "timezone", "Mars/Olympus");
    let response = browser.submit("/admin/tenants", &typed).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(error_near(&refused, "timezone").is_some(), "{refused}");
    assert_eq!(
        input_value(&refused, "timezone").as_deref(),
        Some("Mars/Olympus")
    );
    assert!(
        !input_has(&refused, "timezone", "data-browser-zone"),
        "a typed zone"
    );
}

#[tokio::test]
async fn an_admin_sees_a_tenants_usage_and_changes_its_plan_and_ai_budget_on_its_page() {
    let app = spawn_app().await;
    let id = app.new_tenant(7).await;
    let browser = app.signed_in_browser().await;
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    assert!(page.contains("Plan and usage"), "{page}");
    assert!(page.contains("AI tokens a month"), "{page}");

    let to = |path: &str| format!("/admin/tenants/{id}/{path}");
    let field = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let response = browser
        .submit(&to("plan"), &field("plan", "professional"))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    let (kind, text) = crate::helpers::flash_of(&page).unwrap();
    assert_eq!(kind, "success", "{text}");
    assert!(text.contains("Professional"), "{text}");
    let (_, usage) = app.api_get(&format!("/api/admin/tenants/{id}/usage")).await;
    assert_eq!(usage["plan"]["code"], "PROFESSIONAL", "{usage}");

    browser
        .submit(&to("ai-budget"), &field("monthly_tokens", "5000"))
        .await;
    let (_, usage) = app.api_get(&format!("/api/admin/tenants/{id}/usage")).await;
    assert_eq!(usage["ai_tokens_limit"], 5000, "{usage}");
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    assert!(
        page.contains(r#"value="5000""#),
        "the form shows the budget"
    );

    for (bad, says) in [("lots", "whole number"), ("-3", "monthly_tokens")] {
        browser
            .submit(&to("ai-budget"), &field("monthly_tokens", bad))
            .await;
        let page = browser.page(&format!("/admin/tenants/{id}")).await;
        let (kind, text) = crate::helpers::flash_of(&page).unwrap();
        assert_eq!(kind, "error", "{bad}: {text}");
        assert!(text.contains(says), "{bad}: {text}");
    }
    let response = browser
        .submit(&to("plan"), &field("plan", "platinum"))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = browser.page(&format!("/admin/tenants/{id}")).await;
    let (kind, text) = crate::helpers::flash_of(&page).unwrap();
    assert_eq!(
        (kind.as_str(), text.contains("PLATINUM")),
        ("error", true),
        "{text}"
    );

    // Back to the plan's budget; a form without the CSRF token changes nothing.
    browser
        .submit(&to("ai-budget"), &field("monthly_tokens", ""))
        .await;
    let refused = browser
        .post_form(&to("plan"), &[("plan", "enterprise")])
        .await;
    assert_ne!(refused.status(), StatusCode::SEE_OTHER);
    let (_, usage) = app.api_get(&format!("/api/admin/tenants/{id}/usage")).await;
    assert_eq!(usage["plan"]["code"], "PROFESSIONAL", "{usage}");
    assert_eq!(usage["ai_tokens_limit"], usage["plan"]["monthly_ai_tokens"]);

    let dashboard = browser.page("/admin").await;
    assert!(dashboard.contains("Usage this month"), "{dashboard}");
    let name = app.tenant(id).await["name"].as_str().unwrap().to_owned();
    assert!(dashboard.contains(&name), "{dashboard}");
}
