//! Server-side browser sessions for the admin console and the portal.
//!
//! The cookie carries 32 random bytes; the table keeps only their SHA-256, a
//! CSRF token, a one-shot flash message and the two clocks: `last_seen_at`
//! (idle timeout) and `expires_at` (absolute timeout, fixed at sign-in).
//! Signing in always creates a new session (rotation) and ends the old one.
//! Why not actix-session: we need server-side revocation, an absolute
//! timeout and a CSRF token per session; its store trait would wrap this same
//! table and add a cookie-signing key to manage.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::SessionKind;
use entity::web_session;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};
use uuid::Uuid;

use crate::crypto;
use crate::error::AppError;

/// `last_seen_at` is refreshed at most this often, not on every request.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Admin(Uuid),
    User(Uuid),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Success,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Error,
            message: message.into(),
        }
    }

    pub fn info(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Info,
            message: message.into(),
        }
    }

    fn encode(&self) -> String {
        let kind = match self.kind {
            FlashKind::Success => "success",
            FlashKind::Error => "error",
            FlashKind::Info => "info",
        };
        format!("{kind}|{}", self.message)
    }

    fn decode(raw: &str) -> Self {
        let (kind, message) = raw.split_once('|').unwrap_or(("info", raw));
        let kind = match kind {
            "success" => FlashKind::Success,
            "error" => FlashKind::Error,
            _ => FlashKind::Info,
        };
        Self {
            kind,
            message: message.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value (the table's key).
    pub id: String,
    pub subject: Subject,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The flash message left by the previous request, if any.
    pub flash: Option<Flash>,
}

impl Session {
    /// Whether a submitted CSRF token is this session's (constant time).
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        crypto::constant_time_eq(self.csrf_token.as_bytes(), submitted.as_bytes())
    }
}

/// Starts a session; returns the cookie value (shown to the browser only).
pub async fn create(
    db: &DatabaseConnection,
    subject: Subject,
    lifetime: Duration,
) -> Result<(String, Session), AppError> {
    let cookie = crypto::random_token(32);
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(lifetime).map_err(AppError::internal)?;
    let (kind, admin_id, user_id) = match subject {
        Subject::Admin(id) => (SessionKind::Admin, Some(id), None),
        Subject::User(id) => (SessionKind::Portal, None, Some(id)),
    };
    let row = crate::db::write_alone(
        db,
        web_session::ActiveModel {
            id: Set(crypto::sha256_hex(&cookie)),
            kind: Set(kind),
            admin_id: Set(admin_id),
            user_id: Set(user_id),
            csrf_token: Set(crypto::random_token(32)),
            flash: Set(None),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
        }
        .insert(db),
    )
    .await?;
    Ok((cookie, to_session(row, subject, None)))
}

/// How a request uses its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A person acting: takes the pending flash and counts as activity.
    Interactive,
    /// A page polling in the background: neither, so an open tab does not
    /// keep an unattended session alive or eat another page's flash.
    Background,
}

/// The live session behind a cookie value, or `None` when it is unknown,
/// of another kind, idle too long or past its absolute expiry (then it is
/// deleted). Interactive access takes the pending flash message.
pub async fn load(
    db: &DatabaseConnection,
    kind: SessionKind,
    cookie: &str,
    idle_timeout: Duration,
    access: Access,
) -> Result<Option<Session>, AppError> {
    let id = crypto::sha256_hex(cookie);
    let Some(row) = web_session::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = chrono::Duration::from_std(idle_timeout).map_err(AppError::internal)?;
    let subject = match (row.kind, row.admin_id, row.user_id) {
        (SessionKind::Admin, Some(admin), _) if kind == SessionKind::Admin => Subject::Admin(admin),
        (SessionKind::Portal, _, Some(user)) if kind == SessionKind::Portal => Subject::User(user),
        _ => return Ok(None),
    };
    if row.expires_at <= now || row.last_seen_at + idle <= now {
        crate::db::write_alone(db, web_session::Entity::delete_by_id(id).exec(db)).await?;
        return Ok(None);
    }

    if access == Access::Background {
        return Ok(Some(to_session(row, subject, None)));
    }
    let flash = row.flash.as_deref().map(Flash::decode);
    if flash.is_some() || now - row.last_seen_at >= TOUCH_EVERY {
        // update_many: a sign-out deleting the row meanwhile is no error.
        crate::db::write_alone(
            db,
            web_session::Entity::update_many()
                .col_expr(
                    web_session::Column::Flash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(web_session::Column::LastSeenAt, Expr::value(now))
                .filter(web_session::Column::Id.eq(row.id.clone()))
                .exec(db),
        )
        .await?;
    }
    Ok(Some(to_session(row, subject, flash)))
}

/// Leaves a message for the next page this session sees.
pub async fn set_flash(
    db: &DatabaseConnection,
    session_id: &str,
    flash: Flash,
) -> Result<(), AppError> {
    crate::db::write_alone(
        db,
        web_session::Entity::update_many()
            .col_expr(web_session::Column::Flash, flash.encode().into())
            .filter(web_session::Column::Id.eq(session_id))
            .exec(db),
    )
    .await?;
    Ok(())
}

/// Ends the session behind a cookie value (sign-out, rotation).
/// Whether the session `id` (its key, `Session::id`) is still open: not
/// signed out, ended or expired. For what outlives a request (an event
/// stream).
pub async fn still_open(db: &DatabaseConnection, id: &str) -> Result<bool, AppError> {
    let open = web_session::Entity::find_by_id(id.to_owned())
        .filter(web_session::Column::ExpiresAt.gt(Utc::now()))
        .count(db)
        .await?;
    Ok(open > 0)
}

pub async fn destroy(db: &DatabaseConnection, cookie: &str) -> Result<(), AppError> {
    crate::db::write_alone(
        db,
        web_session::Entity::delete_by_id(crypto::sha256_hex(cookie)).exec(db),
    )
    .await?;
    Ok(())
}

/// Deletes sessions past their absolute expiry; returns how many.
pub async fn sweep_expired(db: &DatabaseConnection) -> Result<u64, AppError> {
    let result = crate::db::write_alone(
        db,
        web_session::Entity::delete_many()
            .filter(web_session::Column::ExpiresAt.lte(Utc::now()))
            .exec(db),
    )
    .await?;
    Ok(result.rows_affected)
}

fn to_session(row: web_session::Model, subject: Subject, flash: Option<Flash>) -> Session {
    Session {
        id: row.id,
        subject,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        expires_at: row.expires_at,
        flash,
    }
}
