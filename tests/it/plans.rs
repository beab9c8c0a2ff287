//! Plans are platform data an admin runs (issue 19, §8): the console's
//! `/admin/plans` page and `POST /api/admin/plans`, `PUT
//! /api/admin/plans/{code}` add a plan and change its limits (audited), a
//! change reaches the running bots of the tenants on the plan, and the
//! team size is kept when an owner invites and when an invitee joins.

use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bots::{customer_writes, linked_tenant};
use crate::helpers::{TestApp, eventually, flash_of, spawn_app};
use crate::team::audit_count;
use crate::tenant_api::set_month_messages;

async fn put_plan(app: &TestApp, code: &str, body: &Value) -> (StatusCode, Value) {
    app.api_call(Method::PUT, &format!("/api/admin/plans/{code}"), Some(body))
        .await
}

fn limits(name: &str, messages: Option<i64>, rate: i64, members: Option<i64>) -> Value {
    json!({
        "name": name,
        "monthly_messages": messages,
        "monthly_ai_tokens": null,
        "api_requests_per_minute": rate,
        "team_members": members,
    })
}

#[tokio::test]
async fn an_admin_adds_a_plan_and_changes_its_limits_over_the_api() {
    let app = spawn_app().await;
    let mut new = limits("Team Plus", Some(5_000), 120, Some(5));
    new["code"] = json!("team_plus");
    let (status, created) = app.api_post("/api/admin/plans", &new).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["code"], "TEAM_PLUS", "codes are capitals");
    assert_eq!(created["monthly_messages"], 5_000);
    assert!(created["monthly_ai_tokens"].is_null(), "unlimited");
    let (_, list) = app.api_get("/api/admin/plans").await;
    let codes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["STARTER", "PROFESSIONAL", "ENTERPRISE", "TEAM_PLUS"],
        "a new plan goes last"
    );
    let (status, body) = app.api_post("/api/admin/plans", &new).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Refused values name their fields; nothing is written.
    let bad = json!({
        "code": "9lives", "name": " ", "monthly_messages": -1, "monthly_ai_tokens": -5,
        "api_requests_per_minute": 0, "team_members": 0,
    });
    let (status, body) = app.api_post("/api/admin/plans", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in [
        "code",
        "name",
        "monthly_messages",
        "monthly_ai_tokens",
        "api_requests_per_minute",
        "team_members",
    ] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    let (status, body) = app
        .api_post("/api/admin/plans", &json!({ "code": "X2", "name": "x" }))
        .await;
    assert!(status.is_client_error(), "a missing rate: {status} {body}");

    // A tenant on it sees the plan's limits, and a change of them.
    let tenant = app.new_tenant(1).await;
    app.set_plan(tenant, "team_plus").await;
    let (status, updated) = put_plan(
        &app,
        "team_plus",
        &limits("Team Plus", Some(7_000), 90, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["code"].as_str(),
            updated["api_requests_per_minute"].as_i64()
        ),
        (Some("TEAM_PLUS"), Some(90))
    );
    let (_, usage) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/usage"))
        .await;
    assert_eq!(usage["plan"]["monthly_messages"], 7_000, "{usage}");
    assert!(usage["plan"]["team_members"].is_null(), "{usage}");

    // The code never changes; an unknown plan is a 404.
    let mut renamed = limits("Team Plus", Some(7_000), 90, None);
    renamed["code"] = json!("OTHER");
    let (status, body) = put_plan(&app, "TEAM_PLUS", &renamed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["code"].is_string(), "{body}");
    let (status, body) = put_plan(&app, "GOLD", &limits("Gold", None, 60, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("plan_not_found")),
        "{body}"
    );
    assert_eq!(audit_count(&app, "plan.created").await, 1);
    assert_eq!(audit_count(&app, "plan.updated").await, 1);

    // Only admins.
    let response = app
        .client
        .post(app.url("/api/admin/plans"))
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// A plan's new monthly limit reaches the running bots on it at once: the
/// bot falls silent at the new limit, and answers again when it is lifted.
#[tokio::test]
async fn a_change_of_a_plans_limit_reaches_the_running_bots_on_it() {
    let app = spawn_app().await;
    let id = linked_tenant(&app, 1).await;
    set_month_messages(&app, id, 500).await;
    let (status, body) =
        put_plan(&app, "STARTER", &limits("Starter", Some(500), 60, Some(2))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let statuses = |chat: &'static str| {
        let app = &app;
        async move {
            let (_, list) = app
                .api_get(&format!("/api/admin/tenants/{id}/conversations?q={chat}"))
                .await;
            let cid = list["items"][0]["id"].clone();
            if cid.is_null() {
                return Vec::new();
            }
            let (_, thread) = app
                .api_get(&format!(
                    "/api/admin/tenants/{id}/conversations/{cid}/messages"
                ))
                .await;
            thread["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|m| format!("{} {}", m["direction"], m["status"]))
                .collect::<Vec<_>>()
        }
    };
    customer_writes(&app, id, "+4917600000031", "hello?", "plan-q-1").await;
    eventually("the message logged and left unanswered", || async {
        let seen = statuses("4917600000031").await;
        seen.iter().any(|s| s.contains("SKIPPED")).then_some(())
    })
    .await;
    assert!(
        statuses("4917600000031")
            .await
            .iter()
            .all(|s| s.starts_with("\"IN\"")),
        "the bot answered beyond the plan's new limit"
    );

    let (status, body) = put_plan(&app, "STARTER", &limits("Starter", None, 60, Some(2))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    customer_writes(&app, id, "+4917600000032", "hello?", "plan-q-2").await;
    eventually("an answer once the limit is lifted", || async {
        let seen = statuses("4917600000032").await;
        seen.iter().any(|s| s.starts_with("\"OUT\"")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_admin_runs_plans_from_the_console() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let browser = app.signed_in_browser().await;
    let page = browser.page("/admin/plans").await;
    assert!(
        page.contains(r#"href="/admin/plans""#),
        "in the nav: {page}"
    );
    for (code, tenants) in [("STARTER", "1 tenant"), ("PROFESSIONAL", "0 tenants")] {
        let card = section_of(&page, &format!("plan-{code}"));
        assert!(card.contains(tenants), "{code}: {card}");
    }
    assert!(
        section_of(&page, "plan-STARTER").contains(r#"value="1000""#),
        "the form shows the limits"
    );

    let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let response = browser
        .submit(
            "/admin/plans",
            &form(&[
                ("code", "SEASONAL"),
                ("name", "Seasonal"),
                ("monthly_messages", "3,000"),
                ("monthly_ai_tokens", ""),
                ("api_requests_per_minute", "30"),
                ("team_members", "3"),
            ]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = browser.page("/admin/plans").await;
    let (kind, text) = flash_of(&page).unwrap();
    assert_eq!(
        (kind.as_str(), text.contains("Seasonal")),
        ("success", true),
        "{text}"
    );
    let card = section_of(&page, "plan-SEASONAL");
    assert!(card.contains(r#"value="3000""#), "{card}");

    let edit = |messages: &str| {
        form(&[
            ("name", "Starter"),
            ("monthly_messages", messages),
            ("monthly_ai_tokens", "200000"),
            ("api_requests_per_minute", "60"),
            ("team_members", "2"),
        ])
    };
    browser.submit("/admin/plans/STARTER", &edit("lots")).await;
    let page = browser.page("/admin/plans").await;
    let (kind, text) = flash_of(&page).unwrap();
    assert_eq!(kind, "error", "{text}");
    assert!(text.contains("monthly_messages"), "{text}");
    browser.submit("/admin/plans/STARTER", &edit("")).await;
    let (_, usage) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/usage"))
        .await;
    assert!(
        usage["plan"]["monthly_messages"].is_null(),
        "empty is unlimited: {usage}"
    );

    // Without the CSRF token nothing changes.
    let refused = browser.post_form("/admin/plans/STARTER", &edit("10")).await;
    assert_ne!(refused.status(), StatusCode::SEE_OTHER);
    let (_, usage) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/usage"))
        .await;
    assert!(usage["plan"]["monthly_messages"].is_null(), "{usage}");
}

/// The `<section>` with `id`, up to its end.
fn section_of(page: &str, id: &str) -> String {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let end = page[start..].find("</section>").unwrap() + start;
    page[start..end].to_owned()
}

/// The owner sets up a tenant through Google, on the Starter plan (two
/// people, the owner included).
mod team_size {
    use super::*;
    use crate::helpers::{google_browser, google_sign_in, id_of, json_of, spawn_app_with_google};

    async fn invite(owner: &crate::helpers::Browser, email: &str) -> (StatusCode, Value) {
        json_of(
            owner
                .portal_json(
                    Method::POST,
                    "/api/portal/team/invitations",
                    &json!({ "email": email }),
                )
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    #[tokio::test]
    async fn an_owner_invites_no_more_people_than_the_plan_has_room_for() {
        let (app, fake) = spawn_app_with_google().await;
        let owner = google_browser(&app, &fake, "olga@owner.example").await;
        let (status, me) = json_of(owner.get("/api/portal/me").await).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        let tenant: Uuid = id_of(&me["tenant"]);

        // Starter: the owner and one more. A pending invitation holds the seat.
        let (status, first) = invite(&owner, "sam@staff.example").await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let (status, body) = invite(&owner, "kim@staff.example").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::CONFLICT, Some("team_full")),
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains("Starter"),
            "{body}"
        );
        // Inviting the same address again replaces its invitation: allowed.
        let (status, body) = invite(&owner, "sam@staff.example").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let page = owner.page("/portal/team").await;
        assert!(page.contains("team-seats"), "{page}");

        // The plan shrinks to the owner alone: the invitee cannot join
        // (the invitation stays, for when there is room), and signs up
        // nowhere else either.
        let (status, body) = put_plan(
            &app,
            "STARTER",
            &limits("Starter", Some(1_000), 60, Some(1)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let refused = google_sign_in(&app.browser(), &fake, "sam@staff.example", "Sam", true).await;
        assert_ne!(
            refused.status(),
            StatusCode::SEE_OTHER,
            "joined a full team"
        );
        let text = refused.text().await.unwrap();
        assert!(text.contains("full"), "{text}");
        let users = entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq("sam@staff.example"))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(users, 0);

        // A bigger plan: the invitee joins, and another can be invited.
        app.set_plan(tenant, "PROFESSIONAL").await;
        let joined = google_sign_in(&app.browser(), &fake, "sam@staff.example", "Sam", true).await;
        assert_eq!(joined.status(), StatusCode::SEE_OTHER);
        let (status, body) = invite(&owner, "kim@staff.example").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}
