//! The tenant state machine as the admin meets it: every status × every
//! action the admin has (pause and resume on a tenant; approve and reject on
//! its setup request), through the JSON API and the console's buttons.
//! Statuses the admin cannot reach are set directly in the database.

use entity::enums::{SetupRequestStatus, TenantStatus};
use flowhq::domain::lifecycle::{LifecycleAction, status_name};
use flowhq::services::setup_requests;
use reqwest::StatusCode;
use sea_orm::Iterable;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, flash_of, phone, spawn_app};

/// Where an admin action leads, written out from the lifecycle of the
/// contract (`domain::lifecycle`'s diagram): pause only from ACTIVE, resume
/// only from PAUSED, approve and reject only from PENDING. Exhaustive, so a
/// new status must be added here.
fn expected(from: TenantStatus, action: LifecycleAction) -> Option<TenantStatus> {
    use LifecycleAction as A;
    use TenantStatus as S;
    match (from, action) {
        (S::Active, A::Pause) => Some(S::Paused),
        (S::Paused, A::Resume) => Some(S::Active),
        // Approval starts the bot at once (DESIGN: APPROVED ──bot start──▶
        // QR_PENDING), so an approved tenant is found QR_PENDING.
        (S::Pending, A::Approve) => Some(S::QrPending),
        (S::Pending, A::Reject) => Some(S::New),
        (
            S::New | S::Pending | S::Approved | S::QrPending | S::Active | S::Paused | S::Error,
            _,
        ) => None,
    }
}

/// Collects what went wrong over a whole table, so one run shows every
/// disagreeing pair instead of the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} problem(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Checks an API answer to `action` on a tenant that was `from`, and where
/// the tenant is now.
fn check_api_answer(
    problems: &mut Problems,
    case: &str,
    (from, to): (TenantStatus, Option<TenantStatus>),
    (status, body): (StatusCode, &serde_json::Value),
    now: TenantStatus,
    legal_status: &str,
) {
    match to {
        Some(to) => {
            problems.check(status == StatusCode::OK, || {
                format!("{case}: expected 200, got {status} {body}")
            });
            problems.check(body["status"] == legal_status, || {
                format!("{case}: expected status {legal_status} in {body}")
            });
            problems.check(now == to, || {
                format!("{case}: the tenant is {now:?}, expected {to:?}")
            });
        }
        None => {
            let message = body["message"].as_str().unwrap_or_default();
            problems.check(
                status == StatusCode::CONFLICT && body["error"] == "illegal_transition",
                || format!("{case}: expected 409 illegal_transition, got {status} {body}"),
            );
            problems.check(message.contains(status_name(from)), || {
                format!("{case}: the message does not name the status: {message:?}")
            });
            problems.check(now == from, || {
                format!("{case}: refused, yet the tenant moved to {now:?}")
            });
        }
    }
}

fn path_of(action: LifecycleAction) -> &'static str {
    match action {
        LifecycleAction::Pause => "pause",
        LifecycleAction::Resume => "resume",
        LifecycleAction::Approve => "approve",
        LifecycleAction::Reject => "reject",
        other => panic!("the admin has no {other:?}"),
    }
}

#[tokio::test]
async fn pause_and_resume_through_the_api_follow_the_lifecycle_in_every_status() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let mut problems = Problems::default();
    let mut checked = 0;
    for from in TenantStatus::iter() {
        for action in [LifecycleAction::Pause, LifecycleAction::Resume] {
            app.set_tenant_status(tenant, from).await;
            let case = format!("{} + {}", status_name(from), path_of(action));

            let (status, body) = app
                .api_post(
                    &format!("/api/admin/tenants/{tenant}/{}", path_of(action)),
                    &json!({}),
                )
                .await;

            let now = app.tenant_status(tenant).await;
            let to = expected(from, action);
            let legal = to.map_or("", status_name);
            check_api_answer(
                &mut problems,
                &case,
                (from, to),
                (status, &body),
                now,
                legal,
            );
            if to.is_some() {
                problems.check(body["id"] == tenant.to_string(), || {
                    format!("{case}: no id in {body}")
                });
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 7 * 2);
    problems.assert_none();
}

#[tokio::test]
async fn pause_and_resume_buttons_follow_the_lifecycle_in_every_status() {
    let app = spawn_app().await;
    let tenant = app.new_tenant(1).await;
    let browser = app.signed_in_browser().await;
    let page_path = format!("/admin/tenants/{tenant}");
    let mut problems = Problems::default();
    for from in TenantStatus::iter() {
        for action in [LifecycleAction::Pause, LifecycleAction::Resume] {
            app.set_tenant_status(tenant, from).await;
            let case = format!("{} + {}", status_name(from), path_of(action));
            let to = expected(from, action);
            let action_path = format!("/admin/tenants/{tenant}/{}", path_of(action));
            let page = browser.page(&page_path).await;
            let offered = page.contains(&format!("action=\"{action_path}\""));
            problems.check(offered == to.is_some(), || {
                format!("{case}: button shown: {offered}, allowed: {}", to.is_some())
            });

            // Posted either way: an illegal one may come from an old page.
            let response = browser.submit(&action_path, &[]).await;

            let status = response.status();
            let went = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| l.to_str().unwrap().to_owned());
            problems.check(
                status == StatusCode::SEE_OTHER && went.as_deref() == Some(&page_path),
                || format!("{case}: expected 303 to {page_path}, got {status} to {went:?}"),
            );
            let flash = flash_of(&browser.page(&page_path).await);
            let now = app.tenant_status(tenant).await;
            let (kind, message) = flash.unwrap_or_default();
            match to {
                Some(to) => {
                    problems.check(kind == "success", || {
                        format!("{case}: expected a success flash, got {kind:?} {message:?}")
                    });
                    problems.check(now == to, || format!("{case}: the tenant is {now:?}"));
                }
                None => {
                    problems.check(kind == "error" && message.contains(status_name(from)), || {
                        format!("{case}: expected an error flash naming the status, got {kind:?} {message:?}")
                    });
                    problems.check(now == from, || {
                        format!("{case}: the tenant moved to {now:?}")
                    });
                }
            }
        }
    }
    problems.assert_none();
}

/// A tenant with a waiting setup request, then moved to `status`.
async fn tenant_with_request(app: &TestApp, n: u32, status: TenantStatus) -> (Uuid, Uuid) {
    let tenant = app.new_tenant(n).await;
    let request = app.submit_setup_request(tenant, &phone(n)).await;
    assert_eq!(app.tenant_status(tenant).await, TenantStatus::Pending);
    app.set_tenant_status(tenant, status).await;
    (tenant, request)
}

#[tokio::test]
async fn approve_and_reject_follow_the_lifecycle_in_every_status() {
    let app = spawn_app().await;
    let mut problems = Problems::default();
    let mut n = 0;
    for from in TenantStatus::iter() {
        for action in [LifecycleAction::Approve, LifecycleAction::Reject] {
            n += 1;
            let (tenant, request) = tenant_with_request(&app, n, from).await;
            let case = format!("{} + {}", status_name(from), path_of(action));

            let (status, body) = app
                .api_post(
                    &format!("/api/admin/setup-requests/{request}/{}", path_of(action)),
                    &json!({"note": "Decided by the admin test."}),
                )
                .await;

            let to = expected(from, action);
            let decided = match action {
                LifecycleAction::Approve => "APPROVED",
                _ => "REJECTED",
            };
            let now = app.tenant_status(tenant).await;
            check_api_answer(
                &mut problems,
                &case,
                (from, to),
                (status, &body),
                now,
                decided,
            );
            let stored = setup_requests::for_tenant(app.db(), tenant.into())
                .await
                .unwrap();
            let waits = stored[0].status == SetupRequestStatus::Submitted;
            problems.check(waits == to.is_none(), || {
                format!("{case}: the request is {:?}", stored[0].status)
            });
        }
    }
    assert_eq!(n, 7 * 2);
    problems.assert_none();
}
