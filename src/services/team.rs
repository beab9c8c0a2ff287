//! A tenant's team: its members (the OWNER and STAFF) and the owner's
//! invitations of teammates by email.
//!
//! Owns: inviting (token of 32 random bytes, only its SHA-256 stored, the
//! link returned once), revoking, accepting at Google sign-in (an unknown
//! email with a pending invitation becomes STAFF of that tenant instead of
//! getting a tenant of its own), and removing a STAFF member together with
//! every portal session they have. Each change writes its audit row in the
//! same transaction.
//! Must not: decide who may call it (handlers ask for `OwnerSession`), or
//! know HTTP; the tenant always comes from the caller's session.

use chrono::{DateTime, Utc};
use entity::enums::UserRole;
use entity::{team_invite, tenant, user, web_session};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit;
use super::users::{GoogleProfile, PortalUser, display_name};
use crate::crypto;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// How long an invitation link works.
pub const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// A lower-cased email address fit to invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteEmail(String);

impl InviteEmail {
    /// One `@` between a non-empty local part and a dotted domain, no
    /// whitespace, at most 254 characters; lower-cased.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(email))
        } else {
            let mut fields = FieldErrors::new();
            fields.insert(
                "email".to_owned(),
                "Enter an email address like name@example.com.".to_owned(),
            );
            Err(AppError::validation(fields))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A pending invitation (never its token).
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<team_invite::Model> for Invitation {
    fn from(row: team_invite::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Team {
    pub members: Vec<Member>,
    pub invitations: Vec<Invitation>,
    /// The plan's team size, the owner included (`None`: unlimited).
    /// Members and pending invitations hold seats.
    pub seats: Option<i32>,
}

/// A new invitation and its link, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub link: String,
}

/// What the invitation link's page shows before the invitee signs in.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationPreview {
    pub email: String,
    pub business: String,
    pub expires_at: DateTime<Utc>,
}

/// The members (owner first) and the pending invitations of a tenant.
pub async fn team(db: &DatabaseConnection, tenant_id: TenantId) -> Result<Team, AppError> {
    let mut members: Vec<Member> = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Member {
            id: row.id,
            email: row.email,
            name: row.name,
            role: row.role,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        })
        .collect();
    members.sort_by_key(|member| member.role != UserRole::Owner);
    let invitations = pending()
        .filter(team_invite::Column::TenantId.eq(tenant_id))
        .order_by_desc(team_invite::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Invitation::from)
        .collect();
    let seats = super::plans::of_tenant(db, tenant_id).await?.team_members;
    Ok(Team {
        members,
        invitations,
        seats,
    })
}

/// Invitations neither used, revoked nor expired.
fn pending() -> sea_orm::Select<team_invite::Entity> {
    team_invite::Entity::find()
        .filter(team_invite::Column::UsedAt.is_null())
        .filter(team_invite::Column::RevokedAt.is_null())
        .filter(team_invite::Column::ExpiresAt.gt(Utc::now()))
}

/// The owner invites `email` as STAFF. An earlier pending invitation of
/// the same address is replaced (revoked), so only the newest link works.
/// `link_base` is the join page's address without the token.
pub async fn invite(
    db: &DatabaseConnection,
    owner: &PortalUser,
    email: &InviteEmail,
    link_base: &str,
) -> Result<CreatedInvitation, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?;
    match existing {
        Some(found) if found.tenant_id == Uuid::from(owner.tenant_id) => {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("{} is already on your team.", email.as_str()),
            ));
        }
        Some(_) => {
            return Err(AppError::new(
                ErrorCode::EmailInOtherTeam,
                format!(
                    "{} already uses Flow HQ with another business; a person can belong to one business only.",
                    email.as_str()
                ),
            ));
        }
        None => {}
    }
    check_team_size(&txn, owner.tenant_id, Seats::Invitation(email)).await?;
    let now = Utc::now();
    team_invite::Entity::update_many()
        .col_expr(team_invite::Column::RevokedAt, Expr::value(now))
        .filter(team_invite::Column::TenantId.eq(owner.tenant_id))
        .filter(team_invite::Column::Email.eq(email.as_str()))
        .filter(team_invite::Column::UsedAt.is_null())
        .filter(team_invite::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let token = crypto::random_token(32);
    let row = team_invite::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(owner.tenant_id.into()),
        email: Set(email.as_str().to_owned()),
        role: Set(UserRole::Staff),
        token_hash: Set(crypto::sha256_hex(&token)),
        created_by: Set(Some(owner.id)),
        created_at: Set(now),
        expires_at: Set(now + INVITATION_LIFETIME),
        used_at: Set(None),
        used_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &owner.actor(),
        Some(owner.tenant_id),
        "team.invited",
        json!({ "invitation_id": row.id, "email": row.email, "role": "STAFF", "expires_at": row.expires_at }),
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedInvitation {
        invitation: row.into(),
        link: format!("{}/{token}", link_base.trim_end_matches('/')),
    })
}

/// The owner withdraws a pending invitation of their tenant.
pub async fn revoke(
    db: &DatabaseConnection,
    owner: &PortalUser,
    invitation_id: Uuid,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let row = team_invite::Entity::find_by_id(invitation_id)
        .filter(team_invite::Column::TenantId.eq(owner.tenant_id))
        .one(&txn)
        .await?
        .ok_or_else(invitation_not_found)?;
    usable(&row)?;
    team_invite::Entity::update_many()
        .col_expr(team_invite::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(team_invite::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        &owner.actor(),
        Some(owner.tenant_id),
        "team.invitation_revoked",
        json!({ "invitation_id": row.id, "email": row.email }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The owner removes a STAFF member: the user row goes, and with it every
/// portal session of theirs, so their next request is signed out.
pub async fn remove_member(
    db: &DatabaseConnection,
    live: &crate::live::Live,
    owner: &PortalUser,
    member_id: Uuid,
) -> Result<(), AppError> {
    if member_id == owner.id {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "You cannot remove yourself from your team.",
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let member = user::Entity::find_by_id(member_id)
        .filter(user::Column::TenantId.eq(owner.tenant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::not_found(ErrorCode::MemberNotFound, "There is no such team member.")
        })?;
    if member.role == UserRole::Owner {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "An owner cannot be removed from the team.",
        ));
    }
    // Explicit, not left to ON DELETE CASCADE: ending the sessions is the point.
    web_session::Entity::delete_many()
        .filter(web_session::Column::UserId.eq(member.id))
        .exec(&txn)
        .await?;
    user::Entity::delete_by_id(member.id).exec(&txn).await?;
    audit::record(
        &txn,
        &owner.actor(),
        Some(owner.tenant_id),
        "team.member_removed",
        json!({ "user_id": member.id, "email": member.email, "role": "STAFF" }),
    )
    .await?;
    txn.commit().await?;
    // Their open event streams end now, not at their next reconnect.
    live.sessions_ended(owner.tenant_id);
    Ok(())
}

/// The invitation behind a link, if it can still be accepted.
pub async fn preview(db: &DatabaseConnection, token: &str) -> Result<InvitationPreview, AppError> {
    let row = team_invite::Entity::find()
        .filter(team_invite::Column::TokenHash.eq(crypto::sha256_hex(token)))
        .one(db)
        .await?
        .ok_or_else(invitation_not_found)?;
    usable(&row)?;
    let business = tenant::Entity::find_by_id(row.tenant_id)
        .one(db)
        .await?
        .map(|tenant| tenant.name)
        .ok_or_else(invitation_not_found)?;
    Ok(InvitationPreview {
        email: row.email,
        business,
        expires_at: row.expires_at,
    })
}

/// At the first Google sign-in of `email` (no user has it): the newest
/// pending invitation of that address, consumed, makes the person STAFF of
/// its tenant. `None` when there is none (or another tab just used it).
pub(super) async fn join_by_invitation(
    db: &DatabaseConnection,
    profile: &GoogleProfile,
    email: &str,
) -> Result<Option<PortalUser>, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let Some(invitation) = pending()
        .filter(team_invite::Column::Email.eq(email))
        .order_by_desc(team_invite::Column::CreatedAt)
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    check_team_size(&txn, invitation.tenant_id.into(), Seats::Member).await?;
    let now = Utc::now();
    let user_id = Uuid::new_v4();
    // Single use: only the request that flips `used_at` joins.
    let consumed = team_invite::Entity::update_many()
        .col_expr(team_invite::Column::UsedAt, Expr::value(now))
        .col_expr(team_invite::Column::UsedBy, Expr::value(user_id))
        .filter(team_invite::Column::Id.eq(invitation.id))
        .filter(team_invite::Column::UsedAt.is_null())
        .filter(team_invite::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if consumed.rows_affected != 1 {
        return Ok(None);
    }
    let row = user::ActiveModel {
        id: Set(user_id),
        email: Set(email.to_owned()),
        google_subject: Set(Some(profile.subject.clone())),
        name: Set(display_name(profile, email)),
        role: Set(UserRole::Staff),
        tenant_id: Set(invitation.tenant_id),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
    }
    .insert(&txn)
    .await?;
    let joined = PortalUser::from(row);
    audit::record(
        &txn,
        &joined.actor(),
        Some(joined.tenant_id),
        "team.invitation_accepted",
        json!({ "invitation_id": invitation.id, "user_id": joined.id, "email": email, "role": "STAFF" }),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(joined))
}

/// What asks for a seat on the team.
#[derive(Debug, Clone, Copy)]
enum Seats<'a> {
    /// A new invitation of this address (it replaces a pending one of the
    /// same address, whose seat it takes over).
    Invitation(&'a InviteEmail),
    /// An invitee joining (their invitation held the seat).
    Member,
}

/// Refuses one more person when the tenant's plan's team size (the owner
/// included) is reached: members and pending invitations hold seats, so an
/// owner cannot hand out more links than the plan has room for; a joining
/// invitee is checked against members only (the plan may have shrunk
/// since). The tenant's row is locked first, so two owners' tabs cannot
/// both take the last seat (SQLite's write transaction already excludes
/// that).
async fn check_team_size(
    txn: &crate::db::WriteTransaction,
    tenant: TenantId,
    seats: Seats<'_>,
) -> Result<(), AppError> {
    tenant::Entity::find_by_id(tenant.as_uuid())
        .lock_exclusive()
        .one(txn)
        .await?;
    let plan = super::plans::of_tenant(txn, tenant).await?;
    let Some(limit) = plan.team_members else {
        return Ok(());
    };
    let members = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .count(txn)
        .await?;
    let taken = match seats {
        Seats::Member => members,
        Seats::Invitation(email) => {
            let others_invited = pending()
                .filter(team_invite::Column::TenantId.eq(tenant))
                .filter(team_invite::Column::Email.ne(email.as_str()))
                .count(txn)
                .await?;
            members + others_invited
        }
    };
    if taken < u64::try_from(limit).unwrap_or(0) {
        return Ok(());
    }
    let message = match seats {
        Seats::Invitation(_) => format!(
            "Your {} plan allows {limit} people on the team, the owner and pending invitations included. \
             Remove someone or withdraw an invitation first, or ask the Flow HQ team for a bigger plan.",
            plan.name
        ),
        Seats::Member => format!(
            "This team is full: its {} plan allows {limit} people. Ask the owner to make room, then sign in again.",
            plan.name
        ),
    };
    Err(AppError::new(ErrorCode::TeamFull, message))
}

fn invitation_not_found() -> AppError {
    AppError::not_found(
        ErrorCode::InvitationNotFound,
        "This invitation does not exist. Check the link, or ask the owner for a new one.",
    )
}

/// Refuses an invitation that was used, revoked or ran out, saying which.
fn usable(row: &team_invite::Model) -> Result<(), AppError> {
    if row.used_at.is_some() {
        return Err(AppError::new(
            ErrorCode::InvitationUsed,
            "This invitation was already accepted. Sign in with Google to reach the inbox.",
        ));
    }
    if row.revoked_at.is_some() {
        return Err(AppError::new(
            ErrorCode::InvitationRevoked,
            "This invitation was withdrawn by the owner. Ask them for a new one.",
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(AppError::new(
            ErrorCode::InvitationExpired,
            "This invitation has expired (they last 7 days). Ask the owner for a new one.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invited_emails_are_trimmed_and_lower_cased() {
        let email = InviteEmail::parse("  Ana.Staff@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ana.staff@example.com");
    }

    #[test]
    fn malformed_emails_cannot_be_invited() {
        for raw in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "a b@example.com",
            "a@b@c.com",
            "ana@.com",
        ] {
            assert!(InviteEmail::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }
}
