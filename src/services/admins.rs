//! Admin accounts (argon2id), the first-start bootstrap admin, and admin API
//! tokens (random, stored as SHA-256, shown once, revocable).

use chrono::{DateTime, Utc};
use entity::{admin_account, admin_api_token};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor};
use crate::crypto;
use crate::error::{AppError, ErrorCode, FieldErrors};

pub const BOOTSTRAP_USERNAME: &str = "admin";
/// Every API token starts with this, so leaked ones are easy to grep for.
pub const TOKEN_PREFIX: &str = "fhq_";

#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    pub id: Uuid,
    pub username: String,
}

impl From<admin_account::Model> for Admin {
    fn from(row: admin_account::Model) -> Self {
        Self {
            id: row.id,
            username: row.username,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<admin_api_token::Model> for ApiToken {
    fn from(row: admin_api_token::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// What the first start did about the admin account.
pub enum Bootstrap {
    /// Admins exist already: nothing done.
    Existing,
    /// Created `admin` with the configured password.
    Configured,
    /// Created `admin` with this generated password (to print once).
    Generated(SecretString),
}

/// Creates `admin` when there is no admin account at all.
pub async fn ensure_bootstrap_admin(
    db: &DatabaseConnection,
    configured: Option<&SecretString>,
) -> Result<Bootstrap, AppError> {
    if admin_account::Entity::find().count(db).await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let (password, outcome) = match configured {
        Some(password) => (password.expose_secret().to_owned(), Bootstrap::Configured),
        None => {
            let password = crypto::random_token(15);
            (
                password.clone(),
                Bootstrap::Generated(SecretString::from(password)),
            )
        }
    };
    create(db, BOOTSTRAP_USERNAME, &password).await?;
    Ok(outcome)
}

fn check_username(username: &str) -> Result<(), AppError> {
    let valid = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(field_error(
            "username",
            "use 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), AppError> {
    crate::domain::password::check(password).map_err(|message| field_error("password", &message))
}

fn field_error(field: &str, message: &str) -> AppError {
    AppError::validation(FieldErrors::from([(field.to_owned(), message.to_owned())]))
}

pub async fn create(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
) -> Result<Admin, AppError> {
    check_username(username)?;
    check_password(password)?;
    if find_by_username(db, username).await?.is_some() {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("An admin named {username} exists already."),
        ));
    }
    let hash = crypto::hash_password(password.to_owned())
        .await
        .map_err(AppError::internal)?;
    let now = Utc::now();
    let row = crate::db::write_alone(
        db,
        admin_account::ActiveModel {
            id: Set(Uuid::new_v4()),
            username: Set(username.to_owned()),
            password_hash: Set(hash),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
        }
        .insert(db),
    )
    .await?;
    Ok(row.into())
}

/// Sets a new password and ends every session of that admin.
pub async fn reset_password(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
) -> Result<Admin, AppError> {
    check_password(password)?;
    let row = find_by_username(db, username).await?.ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!("There is no admin named {username}."),
        )
    })?;
    let hash = crypto::hash_password(password.to_owned())
        .await
        .map_err(AppError::internal)?;
    let mut active = row.into_active_model();
    active.password_hash = Set(hash);
    active.updated_at = Set(Utc::now());
    // Both or neither: a new password with the old sessions still open
    // would leave whoever knew the old one signed in.
    let txn = crate::db::begin_write(db).await?;
    let row = active.update(&txn).await?;
    entity::web_session::Entity::delete_many()
        .filter(entity::web_session::Column::AdminId.eq(row.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(row.into())
}

async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<admin_account::Model>, AppError> {
    Ok(admin_account::Entity::find()
        .filter(admin_account::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// The admin with this username, if any (the CLI's `create-token`).
pub async fn find_by_name(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<Admin>, AppError> {
    Ok(find_by_username(db, username).await?.map(Admin::from))
}

pub async fn find(db: &DatabaseConnection, id: Uuid) -> Result<Option<Admin>, AppError> {
    Ok(admin_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Admin::from))
}

/// The admin with these credentials, or `None`. As slow for an unknown
/// username as for a wrong password.
pub async fn authenticate(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
) -> Result<Option<Admin>, AppError> {
    let Some(row) = find_by_username(db, username).await? else {
        crypto::dummy_verify(password.to_owned()).await;
        return Ok(None);
    };
    let ok = crypto::verify_password(password.to_owned(), row.password_hash.clone())
        .await
        .map_err(AppError::internal)?;
    if !ok {
        return Ok(None);
    }
    let mut active = row.into_active_model();
    active.last_login_at = Set(Some(Utc::now()));
    Ok(Some(
        crate::db::write_alone(db, active.update(db)).await?.into(),
    ))
}

/// Creates a token; the secret is returned once and never stored.
pub async fn create_token(
    db: &DatabaseConnection,
    admin: &Admin,
    name: &str,
) -> Result<(ApiToken, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(field_error(
            "name",
            "give the token a name of 1 to 100 characters",
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", crypto::random_token(32));
    let row = crate::db::write_alone(
        db,
        admin_api_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            admin_id: Set(admin.id),
            name: Set(name.to_owned()),
            token_hash: Set(crypto::sha256_hex(&secret)),
            prefix: Set(secret.chars().take(10).collect()),
            created_at: Set(Utc::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(db),
    )
    .await?;
    let token = ApiToken::from(row);
    audit::record_alone(
        db,
        &Actor::Admin(admin.username.clone()),
        None,
        "api_token.created",
        json!({ "token_id": token.id, "name": token.name }),
    )
    .await?;
    Ok((token, secret))
}

pub async fn list_tokens(db: &DatabaseConnection) -> Result<Vec<ApiToken>, AppError> {
    Ok(admin_api_token::Entity::find()
        .order_by_desc(admin_api_token::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(ApiToken::from)
        .collect())
}

pub async fn revoke_token(
    db: &DatabaseConnection,
    actor: &Admin,
    id: Uuid,
) -> Result<ApiToken, AppError> {
    let row = admin_api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "There is no such API token."))?;
    if row.revoked_at.is_some() {
        return Ok(row.into());
    }
    let mut active = row.into_active_model();
    active.revoked_at = Set(Some(Utc::now()));
    let token = ApiToken::from(crate::db::write_alone(db, active.update(db)).await?);
    audit::record_alone(
        db,
        &Actor::Admin(actor.username.clone()),
        None,
        "api_token.revoked",
        json!({ "token_id": token.id, "name": token.name }),
    )
    .await?;
    Ok(token)
}

/// The admin owning a live (not revoked) token.
pub async fn authenticate_token(
    db: &DatabaseConnection,
    secret: &str,
) -> Result<Option<Admin>, AppError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some((token, Some(admin))) = admin_api_token::Entity::find()
        .filter(admin_api_token::Column::TokenHash.eq(crypto::sha256_hex(secret)))
        .filter(admin_api_token::Column::RevokedAt.is_null())
        .find_also_related(admin_account::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut active = token.into_active_model();
    active.last_used_at = Set(Some(Utc::now()));
    crate::db::write_alone(db, active.update(db)).await?;
    Ok(Some(admin.into()))
}
