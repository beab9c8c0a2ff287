//! Team members (issue 17, §10): an owner invites a teammate by email, the
//! teammate signs in with Google (the fake provider) and is STAFF of that
//! tenant, works the inbox over the JSON API and is refused (403) on every
//! other portal page and `/api/portal` route; removal ends their sessions
//! at once; invitations expire, are single-use and can be revoked; another
//! tenant's owner neither sees nor touches the team.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Utc;
use entity::{audit_log, team_invite, tenant};
use flowhq::fake_google::FakeGoogle;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, TestApp, eventually, google_browser, google_sign_in, id_of, json_of, location,
    spawn_app_with_google,
};

const OWNER: &str = "olga@owner.example";
const STAFF: &str = "sam@staff.example";
const CUSTOMER: &str = "+4917655555555";

/// A JSON write to the portal API as the portal's own script sends it.
async fn portal_post(browser: &Browser, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(
        browser
            .portal_json(Method::POST, path, body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn me(browser: &Browser) -> Value {
    let (status, me) = json_of(browser.get("/api/portal/me").await).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me
}

/// The owner invites `email` over the JSON API; returns the invitation's
/// id and the path of its link.
async fn invite(owner: &Browser, email: &str) -> (Uuid, String) {
    let (status, body) = portal_post(
        owner,
        "/api/portal/team/invitations",
        &json!({ "email": email }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let link = reqwest::Url::parse(body["link"].as_str().unwrap()).unwrap();
    assert!(link.path().starts_with("/portal/join/"), "{link}");
    (id_of(&body["invitation"]), link.path().to_owned())
}

pub(crate) async fn audit_count(app: &TestApp, event: &str) -> u64 {
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .count(app.db())
        .await
        .unwrap()
}

/// The owner's tenant with an approved setup request, its sandbox bot
/// linked and a customer's message answered.
async fn live_tenant(app: &TestApp, owner: &Browser) -> Uuid {
    let day = json!({"open": "00:00", "close": "24:00"});
    let (status, request) = portal_post(
        owner,
        "/api/portal/setup-request",
        &json!({
            "template_type": "SUPPORT",
            "business_name": "Olga's Shop",
            "whatsapp_number": "+4915144444444",
            "language": "en",
            "timezone": "UTC",
            "hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day},
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let (status, body) = app
        .api_post(
            &format!("/api/admin/setup-requests/{}/approve", id_of(&request)),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = id_of(&me(owner).await["tenant"]);
    eventually("a QR code to scan", || async {
        let (status, _) = app
            .api_post(&format!("/api/admin/tenants/{id}/sandbox/scan"), &json!({}))
            .await;
        (status == StatusCode::ACCEPTED).then_some(())
    })
    .await;
    eventually("the tenant ACTIVE", || async {
        let row = tenant::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()?;
        (row.status == entity::enums::TenantStatus::Active).then_some(())
    })
    .await;
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{id}/sandbox/inbound"),
            &json!({"from": CUSTOMER, "text": "hello", "id": "wamid.team-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    id
}

/// Moves the owner's tenant to the Professional plan (10 people): room
/// for more than one teammate (Starter has the owner and one more).
async fn room_for_more(app: &TestApp, owner: &Browser) {
    app.set_plan(id_of(&me(owner).await["tenant"]), "PROFESSIONAL")
        .await;
}

/// An owner, and a teammate invited by them and signed in through Google.
async fn owner_and_staff(app: &TestApp, fake: &FakeGoogle) -> (Browser, Browser) {
    let owner = google_browser(app, fake, OWNER).await;
    let (_, link) = invite(&owner, STAFF).await;
    let page = app.get(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(STAFF));
    let staff = google_browser(app, fake, STAFF).await;
    (owner, staff)
}

#[tokio::test]
async fn an_invited_teammate_signs_in_as_staff_of_the_owner_s_tenant_and_works_the_inbox() {
    let (app, fake) = spawn_app_with_google().await;
    let owner = google_browser(&app, &fake, OWNER).await;
    let tenant_id = live_tenant(&app, &owner).await;

    let (status, body) = portal_post(
        &owner,
        "/api/portal/team/invitations",
        &json!({ "email": "  Sam@Staff.EXAMPLE " }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["invitation"]["email"], STAFF,
        "lower-cased and trimmed"
    );
    let link = body["link"].as_str().unwrap();
    let token = link.rsplit('/').next().unwrap();
    assert!(token.len() >= 43, "32 random bytes or more: {token}");
    let stored = team_invite::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.token_hash, token, "only the hash is stored");
    assert_eq!(stored.token_hash, flowhq::crypto::sha256_hex(token));
    let expires_in = stored.expires_at - Utc::now();
    assert!(expires_in > chrono::Duration::days(6) && expires_in <= chrono::Duration::days(7));
    let (_, listed) = json_of(owner.get("/api/portal/team").await).await;
    assert!(
        !listed.to_string().contains(token),
        "the link is shown once"
    );

    let tenants_before = tenant::Entity::find().count(app.db()).await.unwrap();
    let staff = google_browser(&app, &fake, STAFF).await;
    let who = me(&staff).await;
    assert_eq!(who["user"]["role"], "STAFF");
    assert_eq!(id_of(&who["tenant"]), tenant_id, "the inviting tenant");
    assert_eq!(
        tenant::Entity::find().count(app.db()).await.unwrap(),
        tenants_before,
        "no tenant of their own"
    );
    assert_eq!(audit_count(&app, "team.invited").await, 1);
    assert_eq!(audit_count(&app, "team.invitation_accepted").await, 1);
    // `/portal` sends STAFF to the inbox, whose nav has nothing else.
    let home = staff.get("/portal").await;
    assert_eq!(location(&home), "/portal/inbox");
    let inbox = staff.page("/portal/inbox").await;
    for other in [
        "/portal/status",
        "/portal/settings",
        "/portal/logs",
        "/portal/team",
    ] {
        assert!(
            !inbox.contains(&format!("href=\"{other}\"")),
            "nav links {other}"
        );
    }

    // The inbox over the JSON API: list, thread, take over, reply, hand back.
    let chat = eventually("the customer's conversation", || async {
        let (status, body) = json_of(staff.get("/api/portal/conversations").await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"]
            .as_array()?
            .iter()
            .find(|c| c["chat"] == CUSTOMER)
            .cloned()
    })
    .await;
    let cid = chat["id"].to_string();
    let base = format!("/api/portal/conversations/{cid}");
    let (status, body) = json_of(staff.get(&format!("{base}/messages")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("hello"), "{body}");
    let (status, body) = portal_post(&staff, &format!("{base}/take-over"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = portal_post(
        &staff,
        &format!("{base}/messages"),
        &json!({ "text": "Sam here, how can I help?" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the staff reply in the thread", || async {
        let (_, body) = json_of(staff.get(&format!("{base}/messages")).await).await;
        body.to_string()
            .contains("Sam here, how can I help?")
            .then_some(())
    })
    .await;
    let (status, body) = portal_post(&staff, &format!("{base}/hand-back"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = staff.get("/api/portal/events").await;
    assert_eq!(events.status(), StatusCode::OK, "the event stream");
}

/// A portal route: method and path as registered (`{id}` for a parameter).
type Route = (&'static str, &'static str);

/// What STAFF may use: the inbox, its event stream, who they are, the
/// invitation page (public) and the portal's front door (→ inbox).
const STAFF_ROUTES: &[Route] = &[
    ("GET", "/portal"),
    ("GET", "/portal/inbox"),
    ("GET", "/portal/inbox/{cid}"),
    ("POST", "/portal/inbox/{cid}/reply"),
    ("POST", "/portal/inbox/{cid}/take-over"),
    ("POST", "/portal/inbox/{cid}/hand-back"),
    ("GET", "/portal/join/{token}"),
    ("GET", "/api/portal/me"),
    ("GET", "/api/portal/events"),
    ("GET", "/api/portal/conversations"),
    ("GET", "/api/portal/conversations/{cid}"),
    ("GET", "/api/portal/conversations/{cid}/messages"),
    ("POST", "/api/portal/conversations/{cid}/messages"),
    ("POST", "/api/portal/conversations/{cid}/take-over"),
    ("POST", "/api/portal/conversations/{cid}/hand-back"),
];

/// Everything else under `/portal` and `/api/portal`: the owner's.
const OWNER_ROUTES: &[Route] = &[
    ("GET", "/portal/onboarding"),
    ("POST", "/portal/onboarding"),
    ("GET", "/portal/status"),
    ("POST", "/portal/status/new-code"),
    ("POST", "/portal/status/sandbox-scan"),
    ("GET", "/portal/logs"),
    ("GET", "/portal/settings"),
    ("POST", "/portal/settings"),
    ("POST", "/portal/settings/transport"),
    ("POST", "/portal/settings/pairing"),
    ("GET", "/portal/bot"),
    ("GET", "/portal/team"),
    ("POST", "/portal/team/invite"),
    ("POST", "/portal/team/members/{id}/remove"),
    ("POST", "/portal/team/invitations/{id}/revoke"),
    ("GET", "/api/portal/setup-request"),
    ("POST", "/api/portal/setup-request"),
    ("GET", "/api/portal/tenant/current/status"),
    ("GET", "/api/portal/tenant/current/qr"),
    ("GET", "/api/portal/tenant/current/logs"),
    ("POST", "/api/portal/tenant/current/bot/new-code"),
    ("POST", "/api/portal/tenant/current/sandbox/scan"),
    ("POST", "/api/portal/tenant/current/sandbox/inbound"),
    ("GET", "/api/portal/tenant/current/sandbox/outbox"),
    ("GET", "/api/portal/knowledge"),
    ("PUT", "/api/portal/knowledge"),
    ("POST", "/api/portal/try"),
    ("GET", "/api/portal/knowledge/answers"),
    ("PUT", "/api/portal/knowledge/answers/{key}/{lang}"),
    ("DELETE", "/api/portal/knowledge/answers/{key}/{lang}"),
    (
        "POST",
        "/api/portal/knowledge/answers/versions/{vid}/restore",
    ),
    ("GET", "/api/portal/knowledge/unanswered"),
    ("DELETE", "/api/portal/knowledge/unanswered/{qid}"),
    ("GET", "/api/portal/team"),
    ("POST", "/api/portal/team/invitations"),
    ("POST", "/api/portal/team/invitations/{id}/revoke"),
    ("POST", "/api/portal/team/members/{id}/remove"),
    ("GET", "/portal/webhooks"),
    ("POST", "/portal/webhooks"),
    ("GET", "/portal/webhooks/{wid}"),
    ("POST", "/portal/webhooks/{wid}/toggle"),
    ("POST", "/portal/webhooks/{wid}/rotate"),
    ("POST", "/portal/webhooks/{wid}/test"),
    ("POST", "/portal/webhooks/{wid}/delete"),
    ("POST", "/portal/webhooks/{wid}/events/{event}/resend"),
    ("GET", "/api/portal/webhooks"),
    ("POST", "/api/portal/webhooks"),
    // PATCH and DELETE here too; GET is enough to see the 403.
    ("GET", "/api/portal/webhooks/{wid}"),
    ("GET", "/api/portal/webhooks/{wid}/attempts"),
    ("POST", "/api/portal/webhooks/{wid}/test"),
    ("POST", "/api/portal/webhooks/{wid}/rotate-secret"),
    ("POST", "/api/portal/webhooks/{wid}/events/{event}/resend"),
    ("GET", "/portal/api-keys"),
    ("POST", "/portal/api-keys/create"),
    ("POST", "/portal/api-keys/{id}/revoke"),
    ("GET", "/portal/usage"),
    ("GET", "/api/portal/api-keys"),
    ("POST", "/api/portal/api-keys"),
    ("DELETE", "/api/portal/api-keys/{id}"),
    ("GET", "/api/portal/usage"),
];

/// Every `/portal…` path registered in `src/web` (`resource("…")`), with
/// `/api` in front of those under `src/web/api`.
fn registered_portal_paths() -> BTreeSet<String> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut files = Vec::new();
    let mut dirs = vec![web.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let prefix = if file.starts_with(web.join("api")) {
            "/api"
        } else {
            ""
        };
        for piece in source.split("resource(\"").skip(1) {
            let path = piece.split('"').next().unwrap();
            if path == "/portal" || path.starts_with("/portal/") {
                found.insert(format!("{prefix}{path}"));
            }
        }
    }
    found
}

/// The unread count is the tenant's people's: the owner opening the
/// thread has read it.
#[tokio::test]
async fn the_owner_opening_a_thread_reads_it() {
    let (app, fake) = spawn_app_with_google().await;
    let owner = google_browser(&app, &fake, OWNER).await;
    live_tenant(&app, &owner).await;
    let first = || async {
        let (status, list) = json_of(owner.get("/api/portal/conversations").await).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"][0].clone()
    };
    let cid = eventually("the customer's message unread", || async {
        let item = first().await;
        (item["unread"] == 1).then(|| item["id"].clone())
    })
    .await;
    owner.page(&format!("/portal/inbox/{cid}")).await;
    assert_eq!(first().await["unread"], 0);
}

#[tokio::test]
async fn every_portal_route_is_classified_as_staff_or_owner_only() {
    let registered = registered_portal_paths();
    assert!(
        registered.contains("/api/portal/conversations"),
        "{registered:?}"
    );
    let classified: BTreeSet<String> = STAFF_ROUTES
        .iter()
        .chain(OWNER_ROUTES)
        .map(|(_, path)| (*path).to_owned())
        .collect();
    assert_eq!(
        registered, classified,
        "a /portal or /api/portal route is missing from STAFF_ROUTES or OWNER_ROUTES (tests/it/team.rs)"
    );
}

#[tokio::test]
async fn staff_are_refused_with_403_on_every_owner_only_page_and_route() {
    let (app, fake) = spawn_app_with_google().await;
    let (owner, staff) = owner_and_staff(&app, &fake).await;
    let csrf = crate::helpers::csrf_of(&staff.page("/portal/inbox").await);
    let settings_before = owner.page("/portal/settings").await;
    // Well-formed requests: a malformed JSON body may be refused (400)
    // before the session is looked at, still without running the handler.
    for (method, path) in OWNER_ROUTES {
        let path = path
            .replace("{id}", &Uuid::new_v4().to_string())
            .replace("{key}/{lang}", "hours/en")
            .replace("{vid}", "1")
            .replace("{qid}", "1")
            .replace("{wid}", &Uuid::new_v4().to_string())
            .replace("{event}", "1");
        let response = match (*method, path.starts_with("/api/")) {
            ("GET", _) => staff.get(&path).await,
            (_, true) => staff
                .portal_json(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &path,
                    &json!({}),
                )
                .send()
                .await
                .unwrap(),
            (_, false) => {
                staff
                    .post_form(
                        &path,
                        &[("csrf_token", csrf.as_str()), ("email", "x@y.example")],
                    )
                    .await
            }
        };
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} as STAFF: {body}"
        );
        if path.starts_with("/api/") {
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"], "forbidden", "{method} {path}");
        } else {
            assert!(
                body.contains("Only the business") && body.contains("owner"),
                "{method} {path}: a friendly page: {body}"
            );
        }
    }
    // Nothing was changed on the way: the team is the owner and the staff.
    let (_, team) = json_of(owner.get("/api/portal/team").await).await;
    assert_eq!(team["members"].as_array().unwrap().len(), 2, "{team}");
    assert_eq!(team["invitations"].as_array().unwrap().len(), 0, "{team}");
    assert_eq!(
        owner.page("/portal/settings").await.len(),
        settings_before.len()
    );
}

#[tokio::test]
async fn removing_a_teammate_ends_their_sessions_at_once() {
    let (app, fake) = spawn_app_with_google().await;
    let (owner, staff) = owner_and_staff(&app, &fake).await;
    let staff_id = id_of(&me(&staff).await["user"]);
    let owner_id = id_of(&me(&owner).await["user"]);
    // A second session of the same teammate (another browser).
    let other = google_browser(&app, &fake, STAFF).await;
    assert_eq!(me(&other).await["user"]["role"], "STAFF");

    // The owner can remove neither themselves nor an owner.
    let (status, body) = portal_post(
        &owner,
        &format!("/api/portal/team/members/{owner_id}/remove"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let team_page = owner.page("/portal/team").await;
    assert!(team_page.contains(STAFF), "{team_page}");
    let csrf = crate::helpers::csrf_of(&team_page);
    let removed = owner
        .post_form(
            &format!("/portal/team/members/{staff_id}/remove"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&removed), "/portal/team");

    for browser in [&staff, &other] {
        let (status, body) = json_of(browser.get("/api/portal/conversations").await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let page = browser.get("/portal/inbox").await;
        assert_eq!(page.status(), StatusCode::SEE_OTHER);
        assert!(location(&page).starts_with("/auth/google/login"));
    }
    assert_eq!(audit_count(&app, "team.member_removed").await, 1);
    let (_, team) = json_of(owner.get("/api/portal/team").await).await;
    assert!(!team.to_string().contains(STAFF), "{team}");
}

#[tokio::test]
async fn invitations_expire_work_once_and_can_be_revoked() {
    let (app, fake) = spawn_app_with_google().await;
    let owner = google_browser(&app, &fake, OWNER).await;
    let owner_tenant = id_of(&me(&owner).await["tenant"]);
    room_for_more(&app, &owner).await;

    // Expired: the link says so, and signing in does not join the team.
    let (expired, link) = invite(&owner, "late@staff.example").await;
    team_invite::Entity::update(team_invite::ActiveModel {
        id: Set(expired),
        expires_at: Set(Utc::now() - chrono::Duration::minutes(1)),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    let (status, body) = json_of(app.get(&format!("/api{link}")).await).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no JSON twin of the join page: {body}"
    );
    let page = app.get(&link).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("expired"));
    let late = google_browser(&app, &fake, "late@staff.example").await;
    let who = me(&late).await;
    assert_eq!(
        who["user"]["role"], "OWNER",
        "a sign-up of their own, not a teammate"
    );
    assert_ne!(id_of(&who["tenant"]), owner_tenant);

    // Single use.
    let (_, link) = invite(&owner, STAFF).await;
    google_browser(&app, &fake, STAFF).await;
    let page = app.get(&link).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("already accepted"));
    let (status, body) = portal_post(
        &owner,
        "/api/portal/team/invitations",
        &json!({ "email": STAFF }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "already on the team: {body}");

    // Revoked: the link is refused and the email signs up on its own.
    let (revoked, link) = invite(&owner, "gone@staff.example").await;
    let path = format!("/api/portal/team/invitations/{revoked}/revoke");
    let (status, body) = portal_post(&owner, &path, &json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = portal_post(&owner, &path, &json!({})).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"], "invitation_revoked");
    let page = app.get(&link).await;
    assert_eq!(page.status(), StatusCode::GONE);
    let response = google_sign_in(&app.browser(), &fake, "gone@staff.example", "Gone", true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(audit_count(&app, "team.invitation_revoked").await, 1);

    // A malformed address, and one that already belongs to another tenant.
    let (status, body) = portal_post(
        &owner,
        "/api/portal/team/invitations",
        &json!({ "email": "not-an-email" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = portal_post(
        &owner,
        "/api/portal/team/invitations",
        &json!({ "email": "LATE@staff.example" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "email_in_other_team");
}

#[tokio::test]
async fn another_tenant_s_owner_neither_sees_nor_changes_the_team() {
    let (app, fake) = spawn_app_with_google().await;
    let (owner, staff) = owner_and_staff(&app, &fake).await;
    let staff_id = id_of(&me(&staff).await["user"]);
    let owner_id = id_of(&me(&owner).await["user"]);
    room_for_more(&app, &owner).await;
    let (pending, _) = invite(&owner, "next@staff.example").await;

    let intruder = google_browser(&app, &fake, "ivan@intruder.example").await;
    let (status, team) = json_of(intruder.get("/api/portal/team").await).await;
    assert_eq!(status, StatusCode::OK);
    let text = team.to_string();
    for secret in [STAFF, OWNER, "next@staff.example"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let page = intruder.page("/portal/team").await;
    assert!(!page.contains(STAFF) && !page.contains("next@staff.example"));
    for (path, code) in [
        (
            format!("/api/portal/team/members/{staff_id}/remove"),
            "member_not_found",
        ),
        (
            format!("/api/portal/team/members/{owner_id}/remove"),
            "member_not_found",
        ),
        (
            format!("/api/portal/team/invitations/{pending}/revoke"),
            "invitation_not_found",
        ),
    ] {
        let (status, body) = portal_post(&intruder, &path, &json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], code);
    }
    let csrf = crate::helpers::csrf_of(&page);
    let response = intruder
        .post_form(
            &format!("/portal/team/members/{staff_id}/remove"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(me(&staff).await["user"]["role"], "STAFF", "still signed in");
    let (_, team) = json_of(owner.get("/api/portal/team").await).await;
    assert_eq!(team["invitations"].as_array().unwrap().len(), 1, "{team}");
}

#[tokio::test]
async fn a_removed_teammate_s_open_event_stream_ends_at_once() {
    let (app, fake) = spawn_app_with_google().await;
    let (owner, staff) = owner_and_staff(&app, &fake).await;
    let staff_id = id_of(&me(&staff).await["user"]);
    let mut stream = staff.get("/api/portal/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let opening = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&opening).contains("connected"));
    // The owner's own stream goes on.
    let mut owners = owner.get("/api/portal/events").await;
    owners.chunk().await.unwrap().unwrap();

    let (status, body) = portal_post(
        &owner,
        &format!("/api/portal/team/members/{staff_id}/remove"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Well before the 20 s keep-alive, let alone the 5 min lifetime.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the removed teammate's stream is still open");
    let owner_still_open =
        tokio::time::timeout(std::time::Duration::from_millis(500), owners.chunk()).await;
    assert!(owner_still_open.is_err(), "the owner's stream ended too");
}
