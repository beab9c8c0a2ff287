//! The owner's API keys page (`/portal/api-keys`: create, revoke) and
//! usage page (`/portal/usage`). Every handler takes `OwnerSession`; the
//! tenant is the session's. A refused form (422) comes back with what was
//! typed and the messages next to the fields; the new key is only ever in
//! the answer to the create form (never in a flash, which is stored).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, flash_redirect, html};
use crate::domain::api_scope::Scope;
use crate::domain::ids::ApiKeyId;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::api_keys::{self, NewKey, NewKeyInput};
use crate::services::sessions::Flash;
use crate::services::usage;
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::layout::PortalSection;
use crate::views::portal::api_keys::{self as view, KeysPage, scope_field};
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession};

pub async fn show(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let keys = api_keys::list(&state.db, session.tenant_id()).await?;
    Ok(html(
        StatusCode::OK,
        view::page(
            &chrome(&session, PortalSection::ApiKeys),
            &KeysPage {
                keys: &keys,
                name: "",
                errors: &FieldErrors::new(),
                created: None,
            },
        ),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let now = chrono::Utc::now();
    let typed = form.get("name").map(String::as_str).unwrap_or_default();
    let input = NewKeyInput {
        name: typed.to_owned(),
        scopes: Scope::ALL
            .into_iter()
            .filter(|scope| form.contains_key(&scope_field(*scope)))
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        expires_at: form
            .get("expires_in_days")
            .and_then(|days| days.parse::<i64>().ok())
            .filter(|days| (1..=3650).contains(days))
            .map(|days| now + chrono::Duration::days(days)),
    };
    let created = match NewKey::parse(&input, now) {
        Ok(new) => api_keys::create(&state.db, &session.actor(), session.tenant_id(), &new).await,
        Err(err) => Err(err),
    };
    let (status, created, errors) = match created {
        Ok(created) => (StatusCode::OK, Some(created), FieldErrors::new()),
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            (err.code().status(), None, err.fields().clone())
        }
        Err(err) => return Err(err),
    };
    let keys = api_keys::list(&state.db, session.tenant_id()).await?;
    Ok(html(
        status,
        view::page(
            &chrome(&session, PortalSection::ApiKeys),
            &KeysPage {
                keys: &keys,
                name: if created.is_some() { "" } else { typed },
                errors: &errors,
                created: created.as_ref(),
            },
        ),
    ))
}

pub async fn revoke(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<ApiKeyId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    api_keys::revoke(
        &state.db,
        &state.api_keys,
        &session.actor(),
        session.tenant_id(),
        *path,
    )
    .await?;
    let flash = Flash::success("Key revoked; it no longer works.");
    flash_redirect(&state, &session, flash, PortalUrl::ApiKeys).await
}

pub async fn usage(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let (usage, days) = tokio::try_join!(
        usage::usage(&state.db, tenant),
        usage::daily(&state.db, tenant, 30)
    )?;
    Ok(html(
        StatusCode::OK,
        view::usage_page(&chrome(&session, PortalSection::Usage), &usage, &days),
    ))
}
