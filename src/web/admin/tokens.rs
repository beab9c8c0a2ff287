//! API tokens in the console: list, create (the secret is in the 200
//! response of the POST, shown once, never stored), revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::{chrome, flash_redirect, html};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::admins;
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::admin::tokens::{TokensPage, page};
use crate::views::layout::Section;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AppError> {
    let tokens = admins::list_tokens(&state.db).await?;
    Ok(html(
        StatusCode::OK,
        page(
            &chrome(&session, Section::Tokens),
            &TokensPage {
                tokens: &tokens,
                name: "",
                errors: &FieldErrors::new(),
                created: None,
            },
        ),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    session: AdminSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let created = admins::create_token(&state.db, &session.admin, name).await;
    let chrome = chrome(&session, Section::Tokens);
    match created {
        Ok((token, secret)) => {
            let tokens = admins::list_tokens(&state.db).await?;
            Ok(html(
                StatusCode::OK,
                page(
                    &chrome,
                    &TokensPage {
                        tokens: &tokens,
                        name: "",
                        errors: &FieldErrors::new(),
                        created: Some((&token, &secret)),
                    },
                ),
            ))
        }
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let tokens = admins::list_tokens(&state.db).await?;
            Ok(html(
                err.code().status(),
                page(
                    &chrome,
                    &TokensPage {
                        tokens: &tokens,
                        name,
                        errors: err.fields(),
                        created: None,
                    },
                ),
            ))
        }
        Err(err) => Err(err),
    }
}

pub async fn revoke(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<Uuid>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let token = admins::revoke_token(&state.db, &session.admin, id.into_inner()).await?;
    flash_redirect(
        &state,
        &session,
        Flash::success(format!("Token {} revoked.", token.name)),
        AdminUrl::Tokens,
    )
    .await
}
