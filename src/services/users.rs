//! Portal users: the Google sign-in's server-side state and what a verified
//! Google profile turns into — the existing user, an invited teammate
//! joining as STAFF (`team::join_by_invitation`), or (first sign-in) a new
//! tenant with complete defaults plus its OWNER, in one transaction.
//!
//! Nothing here talks HTTP: `crate::oauth` fetches the profile, the portal
//! handlers set cookies. A user's tenant always comes from the user row.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::{TemplateType, UserRole};
use entity::{oauth_login, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set, SqlErr,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor};
use super::team;
use super::tenants::{self, ConfigDefaults, DEFAULT_TIMEZONE};
use crate::config::PortalSettings;
use crate::crypto;
use crate::domain::hours::{BusinessHours, parse_timezone};
use crate::domain::ids::TenantId;
use crate::domain::language::Language;
use crate::error::{AppError, ErrorCode};

/// What the identity provider says about the person signing in.
#[derive(Debug, Clone)]
pub struct GoogleProfile {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A signed-in tenant owner.
#[derive(Debug, Clone, Serialize)]
pub struct PortalUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub tenant_id: TenantId,
}

impl PortalUser {
    pub fn actor(&self) -> Actor {
        Actor::User(self.email.clone())
    }
}

impl From<user::Model> for PortalUser {
    fn from(row: user::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            name: row.name,
            role: row.role,
            tenant_id: row.tenant_id.into(),
        }
    }
}

/// A sign-in handed to the provider, to be finished by its callback.
pub struct PendingLogin {
    pub pkce_verifier: String,
    pub next_path: Option<String>,
}

/// Remembers a started sign-in: the state (hashed), the PKCE verifier and
/// the browser it belongs to (hash of its cookie value).
pub async fn begin_login(
    db: &DatabaseConnection,
    state: &str,
    browser_cookie: &str,
    pkce_verifier: &str,
    next_path: Option<&str>,
    lifetime: Duration,
) -> Result<(), AppError> {
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(lifetime).map_err(AppError::internal)?;
    crate::db::write_alone(
        db,
        oauth_login::ActiveModel {
            id: Set(crypto::sha256_hex(state)),
            browser_hash: Set(crypto::sha256_hex(browser_cookie)),
            pkce_verifier: Set(pkce_verifier.to_owned()),
            next_path: Set(next_path.map(str::to_owned)),
            created_at: Set(now),
            expires_at: Set(expires_at),
        }
        .insert(db),
    )
    .await?;
    Ok(())
}

/// Takes a started sign-in back, exactly once: `None` when the state is
/// unknown, used before, expired, or was started in another browser.
pub async fn take_login(
    db: &DatabaseConnection,
    state: &str,
    browser_cookie: Option<&str>,
) -> Result<Option<PendingLogin>, AppError> {
    let id = crypto::sha256_hex(state);
    let Some(row) = oauth_login::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    // Another browser holding the link cannot use up the owner's sign-in.
    let same_browser = browser_cookie.is_some_and(|cookie| {
        crypto::constant_time_eq(
            crypto::sha256_hex(cookie).as_bytes(),
            row.browser_hash.as_bytes(),
        )
    });
    if !same_browser {
        return Ok(None);
    }
    // Deleting decides who wins when the same callback arrives twice.
    let deleted =
        crate::db::write_alone(db, oauth_login::Entity::delete_by_id(id).exec(db)).await?;
    if deleted.rows_affected != 1 || row.expires_at <= Utc::now() {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        pkce_verifier: row.pkce_verifier,
        next_path: row.next_path,
    }))
}

/// Deletes sign-ins nobody finished; returns how many.
pub async fn sweep_expired_logins(db: &DatabaseConnection) -> Result<u64, AppError> {
    let result = crate::db::write_alone(
        db,
        oauth_login::Entity::delete_many()
            .filter(oauth_login::Column::ExpiresAt.lte(Utc::now()))
            .exec(db),
    )
    .await?;
    Ok(result.rows_affected)
}

/// The user behind a verified profile. The first sign-in of an allowed
/// email provisions a NEW tenant (the admin form's defaults) and its OWNER.
/// Returns the user and whether it was just created.
pub async fn sign_in(
    db: &DatabaseConnection,
    profile: &GoogleProfile,
    policy: &PortalSettings,
) -> Result<(PortalUser, bool), AppError> {
    if !profile.email_verified {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "Your Google account's email address is not verified. Verify it with Google, then sign in again.",
        ));
    }
    let email = profile.email.trim().to_lowercase();
    if profile.subject.trim().is_empty() || !email.contains('@') {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "Google did not tell us who you are. Please try again.",
        ));
    }
    if let Some(found) = find_and_touch(db, &profile.subject, &email).await? {
        return Ok((found, false));
    }
    // An invited teammate joins the inviting tenant as STAFF; the
    // invitation is their permission, whatever the sign-up policy says.
    if let Some(joined) = team::join_by_invitation(db, profile, &email).await? {
        return Ok((joined, true));
    }
    if !policy.may_sign_up(&email) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "Sign-up is limited to invited people on this Flow HQ. Ask the platform's administrator for an invitation.",
        ));
    }
    match provision_owner(db, profile, &email).await {
        Ok(created) => Ok((created, true)),
        // A second tab finished the same first sign-in a moment earlier.
        Err(err) if is_unique_violation(&err) => find_and_touch(db, &profile.subject, &email)
            .await?
            .map(|user| (user, false))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("user vanished after a race"))),
        Err(err) => Err(err.into()),
    }
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// An existing user by Google subject; its last sign-in is recorded.
/// An email already taken by another Google account is refused.
async fn find_and_touch(
    db: &DatabaseConnection,
    subject: &str,
    email: &str,
) -> Result<Option<PortalUser>, AppError> {
    let found = user::Entity::find()
        .filter(user::Column::GoogleSubject.eq(subject))
        .one(db)
        .await?;
    let Some(found) = found else {
        if email_taken(db, email).await? {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "This email address belongs to another Google account on Flow HQ.",
            ));
        }
        return Ok(None);
    };
    let mut update = user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(found.id));
    // The Google account's (verified) address changed: follow it, unless
    // another user has it.
    let mut found = found;
    if found.email != email && !email_taken(db, email).await? {
        update = update.col_expr(user::Column::Email, Expr::value(email.to_owned()));
        found.email = email.to_owned();
    }
    crate::db::write_alone(db, update.exec(db)).await?;
    Ok(Some(found.into()))
}

async fn email_taken(db: &DatabaseConnection, email: &str) -> Result<bool, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .count(db)
        .await?
        > 0)
}

async fn provision_owner(
    db: &DatabaseConnection,
    profile: &GoogleProfile,
    email: &str,
) -> Result<PortalUser, sea_orm::DbErr> {
    let name = display_name(profile, email);
    let actor = Actor::User(email.to_owned());
    let txn = crate::db::begin_write(db).await?;
    let hours = BusinessHours::default();
    let timezone = parse_timezone(DEFAULT_TIMEZONE).map_err(sea_orm::DbErr::Custom)?;
    let tenant_id = tenants::provision(
        &txn,
        &name,
        None,
        ConfigDefaults {
            template_type: TemplateType::Support,
            business_name: &name,
            language: Language::En,
            timezone,
            hours: &hours,
        },
    )
    .await
    .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    let now: DateTime<Utc> = Utc::now();
    let row = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.to_owned()),
        google_subject: Set(Some(profile.subject.clone())),
        name: Set(name.clone()),
        role: Set(UserRole::Owner),
        tenant_id: Set(tenant_id.into()),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &actor,
        Some(tenant_id),
        "tenant.created",
        json!({ "name": name, "via": "portal sign-up" }),
    )
    .await
    .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    audit::record(
        &txn,
        &actor,
        Some(tenant_id),
        "user.signed_up",
        json!({ "email": email, "role": "OWNER" }),
    )
    .await
    .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    txn.commit().await?;
    Ok(row.into())
}

/// The name a new user gets: Google's, else the email, at most 200 characters.
pub(super) fn display_name(profile: &GoogleProfile, email: &str) -> String {
    profile
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(email)
        .chars()
        .take(200)
        .collect()
}

/// The user of a portal session (`None` once deleted with its tenant).
pub async fn find(db: &DatabaseConnection, id: Uuid) -> Result<Option<PortalUser>, AppError> {
    Ok(user::Entity::find_by_id(id).one(db).await?.map(Into::into))
}
