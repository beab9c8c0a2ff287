//! The owner's team page (`/portal/team`: invite, revoke, remove) and the
//! invitation link's page (`/portal/join/{token}`, public: the invitee is
//! not signed in yet).
//!
//! Owns: nothing of its own; the rules are `services::team`. Every team
//! handler takes `OwnerSession`; the tenant is the session's. A refused
//! invite form (422, 409) comes back with what was typed and the message
//! next to the field; the new invitation's link is only ever in the answer
//! to the invite form (never in a flash, which is stored).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::{chrome, flash_redirect, html};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::sessions::Flash;
use crate::services::team::{self, InviteEmail};
use crate::state::AppState;
use crate::urls::{PortalUrl, invitation_link_base};
use crate::views::layout::PortalSection;
use crate::views::portal::team::{self as view, TeamPage};
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession};

pub async fn show(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let team = team::team(&state.db, session.tenant_id()).await?;
    Ok(html(
        StatusCode::OK,
        view::page(
            &chrome(&session, PortalSection::Team),
            &TeamPage {
                team: &team,
                email: "",
                errors: &FieldErrors::new(),
                created: None,
            },
        ),
    ))
}

pub async fn invite(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.get("email").map(String::as_str).unwrap_or_default();
    let created = match InviteEmail::parse(typed) {
        Ok(email) => {
            team::invite(
                &state.db,
                &session.user,
                &email,
                &invitation_link_base(&state.public_url),
            )
            .await
        }
        Err(err) => Err(err),
    };
    let (status, created, refused) = match created {
        Ok(created) => (StatusCode::OK, Some(created), None),
        Err(err)
            if matches!(
                err.code(),
                ErrorCode::ValidationFailed
                    | ErrorCode::Conflict
                    | ErrorCode::EmailInOtherTeam
                    | ErrorCode::TeamFull
            ) =>
        {
            (err.code().status(), None, Some(err))
        }
        Err(err) => return Err(err),
    };
    let team = team::team(&state.db, session.tenant_id()).await?;
    let mut errors = FieldErrors::new();
    if let Some(err) = &refused {
        errors.clone_from(err.fields());
        errors
            .entry("email".to_owned())
            .or_insert_with(|| err.message().to_owned());
    }
    Ok(html(
        status,
        view::page(
            &chrome(&session, PortalSection::Team),
            &TeamPage {
                team: &team,
                email: if refused.is_some() { typed } else { "" },
                errors: &errors,
                created: created.as_ref(),
            },
        ),
    ))
}

pub async fn remove_member(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<Uuid>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    team::remove_member(&state.db, &state.live, &session.user, path.into_inner()).await?;
    let flash = Flash::success("Removed from your team; they were signed out.");
    flash_redirect(&state, &session, flash, PortalUrl::Team).await
}

pub async fn revoke_invitation(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<Uuid>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    team::revoke(&state.db, &session.user, path.into_inner()).await?;
    let flash = Flash::success("Invitation revoked; its link no longer works.");
    flash_redirect(&state, &session, flash, PortalUrl::Team).await
}

/// The invitation link: who invites, for which address, and the sign-in
/// button; a used, revoked or expired one is refused with what happened.
pub async fn join(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let preview = team::preview(&state.db, &path.into_inner()).await?;
    Ok(html(StatusCode::OK, view::join(&preview)))
}
