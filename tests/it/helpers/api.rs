//! The admin surface of a test app: the JSON API with credentials,
//! browsers signed in, and direct database moves for states the API
//! cannot reach; reading JSON answers.

use std::sync::Arc;

use entity::enums::{TemplateType, TenantStatus};
use flowhq::domain::hours::{BusinessHours, parse_timezone};
use flowhq::domain::language::Language;
use flowhq::domain::phone::PhoneNumber;
use flowhq::services::audit::Actor;
use flowhq::services::sessions;
use flowhq::services::setup_requests::{self, NewSetupRequest};
use flowhq::services::users::{self, GoogleProfile, PortalUser};
use reqwest::cookie::Jar;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::Value;
use uuid::Uuid;

use super::*;

/// The admin surface: the JSON API with credentials, browsers, and direct
/// database moves for states the API cannot reach.
impl TestApp {
    /// A request to the admin API as the bootstrap admin (HTTP Basic).
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
    }

    /// Calls the admin API as the bootstrap admin, with a JSON body if given.
    pub async fn api_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.api(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        json_of(request.send().await.expect("request failed")).await
    }

    pub async fn api_get(&self, path: &str) -> (StatusCode, Value) {
        self.api_call(Method::GET, path, None).await
    }

    pub async fn api_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.api_call(Method::POST, path, Some(body)).await
    }

    /// Creates a tenant through the API; panics unless it answers 201.
    pub async fn create_tenant(&self, draft: &Value) -> Value {
        let (status, body) = self.api_post("/api/admin/tenants", draft).await;
        assert_eq!(status, StatusCode::CREATED, "creating {draft}: {body}");
        body
    }

    /// The tenant as `GET /api/admin/tenants/{id}` shows it; panics unless 200.
    pub async fn tenant(&self, id: Uuid) -> Value {
        let (status, body) = self.api_get(&format!("/api/admin/tenants/{id}")).await;
        assert_eq!(status, StatusCode::OK, "reading tenant {id}: {body}");
        body
    }

    /// Moves tenant `id` to plan `code` as an admin; panics unless 200.
    pub async fn set_plan(&self, id: Uuid, code: &str) {
        let (status, body) = self
            .api_call(
                Method::PUT,
                &format!("/api/admin/tenants/{id}/plan"),
                Some(&serde_json::json!({ "plan": code })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "moving {id} to {code}: {body}");
    }

    /// Creates `tenant_draft(n)` through the API; its id.
    pub async fn new_tenant(&self, n: u32) -> Uuid {
        id_of(&self.create_tenant(&tenant_draft(n)).await)
    }

    /// Submits a setup request for a NEW tenant the way its owner does in
    /// the portal (the service the portal calls): the tenant becomes PENDING.
    /// `number` must be the tenant's or unused.
    pub async fn submit_setup_request(&self, tenant_id: Uuid, number: &str) -> Uuid {
        let request = NewSetupRequest {
            template_type: TemplateType::Booking,
            business_name: "Requested Business".to_owned(),
            whatsapp_number: PhoneNumber::parse(number).unwrap(),
            language: Language::En,
            timezone: parse_timezone("Europe/Berlin").unwrap(),
            hours: BusinessHours::default(),
            notes: Some("Please set us up.".to_owned()),
        };
        let owner = Actor::User(format!("owner-{tenant_id}@example.com"));
        setup_requests::submit(self.db(), &owner, tenant_id.into(), None, request)
            .await
            .expect("submitting the setup request")
            .id
    }

    /// Puts a tenant into `status` directly in the database (for states only
    /// the bots or the portal would reach).
    pub async fn set_tenant_status(&self, id: Uuid, status: TenantStatus) {
        entity::tenant::ActiveModel {
            id: Set(id),
            status: Set(status),
            ..Default::default()
        }
        .update(self.db())
        .await
        .expect("setting the tenant status");
    }

    /// The tenant's status as stored.
    pub async fn tenant_status(&self, id: Uuid) -> TenantStatus {
        entity::tenant::Entity::find_by_id(id)
            .one(self.db())
            .await
            .unwrap()
            .expect("the tenant exists")
            .status
    }

    /// A GET carrying exactly this `Cookie` header and no jar.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("request failed")
    }

    /// A browser with an empty cookie jar that does not follow redirects.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar,
            base: format!("http://{}", self.address),
        }
    }

    /// A browser signed in to the portal as the owner with this email (the
    /// first time: a new tenant). Skips Google: it does what a successful
    /// callback does (`users::sign_in` + a portal session). The OAuth flow
    /// itself is tested against the fake provider in `portal_sign_in`.
    pub async fn owner_browser(&self, email: &str) -> (Browser, PortalUser) {
        let profile = GoogleProfile {
            subject: format!("google-{email}"),
            email: email.to_owned(),
            email_verified: true,
            name: Some(format!("Owner {email}")),
        };
        let (user, _) = users::sign_in(self.db(), &profile, &self.settings.portal)
            .await
            .unwrap();
        let (cookie, _) = sessions::create(
            self.db(),
            sessions::Subject::User(user.id),
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
        let browser = self.browser();
        browser.add_cookie("flowhq_portal", &cookie);
        (browser, user)
    }

    /// A browser signed in as the bootstrap admin.
    pub async fn signed_in_browser(&self) -> Browser {
        let browser = self.browser();
        let response = sign_in(&browser).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in failed");
        browser
    }
}

/// Asserts that the plan of `query` (see [`query_plan`]) reads `index`.
pub async fn assert_plan_reads(app: &TestApp, query: sea_orm::Statement, index: &str) {
    let plan = query_plan(app, query).await;
    assert!(
        plan.iter().any(|line| line.contains(index)),
        "{index} not in the plan: {plan:#?}"
    );
}

/// The query plan of `query`, one line per step, as production would run
/// it. On PostgreSQL that is the generic plan of a prepared statement (the
/// one sqlx's cached statements settle on after a few runs, blind to the
/// bound values), with scans off: tiny tables are scanned whatever the
/// indexes.
async fn query_plan(app: &TestApp, query: sea_orm::Statement) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait};

    let backend = app.db().get_database_backend();
    let mut values = query.values.map(|v| v.0).unwrap_or_default();
    let txn = app.db().begin().await.unwrap();
    let (explain, text_column, probe) = match backend {
        DatabaseBackend::Postgres => {
            let probe = format!("plan_probe_{}", Uuid::new_v4().simple());
            for setup in [
                "SET LOCAL enable_seqscan = off".to_owned(),
                "SET LOCAL plan_cache_mode = force_generic_plan".to_owned(),
                format!("PREPARE {probe} AS {}", query.sql),
            ] {
                txn.execute_unprepared(&setup).await.unwrap();
            }
            // EXPLAIN takes no bound values: the arguments go in as literals.
            use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder};
            let args: Vec<String> = std::mem::take(&mut values)
                .iter()
                .map(|value| PostgresQueryBuilder.value_to_string(value))
                .collect();
            let explain = match args.is_empty() {
                true => format!("EXPLAIN EXECUTE {probe}"),
                false => format!("EXPLAIN EXECUTE {probe}({})", args.join(", ")),
            };
            (explain, 0, Some(probe))
        }
        _ => (format!("EXPLAIN QUERY PLAN {}", query.sql), 3, None),
    };
    let plan: Vec<String> = txn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, explain, values,
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(text_column)
                .unwrap_or_default()
        })
        .collect();
    if let Some(probe) = probe {
        // Prepared statements outlive transactions.
        txn.execute_unprepared(&format!("DEALLOCATE {probe}"))
            .await
            .unwrap();
    }
    txn.rollback().await.unwrap();
    plan
}

/// The status and the JSON body of a response (`Null` when the body is empty).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("reading the body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status}: the body is not JSON ({err}): {text}"));
    (status, body)
}

/// The `id` of a tenant (or anything else) in a JSON answer.
pub fn id_of(value: &Value) -> Uuid {
    value["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {value}"))
}

/// A response's status and body text.
pub async fn status_and_text(response: Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}
