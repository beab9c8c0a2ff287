//! One error type for every handler: a stable machine-readable code, a message
//! fit for the user, optional per-field messages, and — kept apart — the cause
//! chain for the log. Clients never see the cause.
//!
//! `ResponseError` gives a plain JSON rendering; `web::errors::render_errors`
//! (middleware) re-renders every error response with the request id, as JSON
//! under `/api` and `/webhooks` and as an HTML page elsewhere.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sea_orm::DbErr;
use serde::Serialize;

/// Stable error codes: clients and scripts match on these, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    TenantNotFound,
    SetupRequestNotFound,
    ConversationNotFound,
    /// Team: no such member or invitation in the caller's tenant.
    MemberNotFound,
    InvitationNotFound,
    /// Webhooks: no such endpoint in the caller's tenant.
    WebhookNotFound,
    /// Team: an invitation past its 7 days, already accepted, or revoked.
    InvitationExpired,
    InvitationUsed,
    InvitationRevoked,
    /// Team: the email belongs to a user of another tenant.
    EmailInOtherTeam,
    /// Team: the plan's number of team members is reached.
    TeamFull,
    MethodNotAllowed,
    Conflict,
    PhoneNumberTaken,
    IllegalTransition,
    /// A person's message needs the tenant's bot running to go out.
    BotNotRunning,
    /// The Cloud API allows only templates 24 h after the customer's last message.
    OutsideWindow,
    /// Tenant API: no `Authorization: Bearer fhq_live_…` header.
    ApiKeyMissing,
    /// Tenant API: not a key of this platform.
    ApiKeyInvalid,
    ApiKeyRevoked,
    ApiKeyExpired,
    /// Tenant API: the key lacks the route's scope (the message names it).
    InsufficientScope,
    ApiKeyNotFound,
    MessageNotFound,
    PlanNotFound,
    /// Tenant API: an `Idempotency-Key` used before with another request.
    IdempotencyKeyReused,
    /// The month's messages of the tenant's plan are used up.
    QuotaExceeded,
    CsrfRejected,
    SignInFailed,
    SignInUnavailable,
    GoogleNotConfigured,
    PayloadTooLarge,
    RequestTimeout,
    RateLimited,
    Internal,
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::TenantNotFound => "tenant_not_found",
            Self::SetupRequestNotFound => "setup_request_not_found",
            Self::ConversationNotFound => "conversation_not_found",
            Self::MemberNotFound => "member_not_found",
            Self::InvitationNotFound => "invitation_not_found",
            Self::WebhookNotFound => "webhook_not_found",
            Self::InvitationExpired => "invitation_expired",
            Self::InvitationUsed => "invitation_used",
            Self::InvitationRevoked => "invitation_revoked",
            Self::EmailInOtherTeam => "email_in_other_team",
            Self::TeamFull => "team_full",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PhoneNumberTaken => "phone_number_taken",
            Self::IllegalTransition => "illegal_transition",
            Self::BotNotRunning => "bot_not_running",
            Self::OutsideWindow => "outside_window",
            Self::ApiKeyMissing => "api_key_missing",
            Self::ApiKeyInvalid => "api_key_invalid",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::ApiKeyExpired => "api_key_expired",
            Self::InsufficientScope => "insufficient_scope",
            Self::ApiKeyNotFound => "api_key_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::PlanNotFound => "plan_not_found",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::QuotaExceeded => "quota_exceeded",
            Self::CsrfRejected => "csrf_rejected",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInUnavailable => "sign_in_unavailable",
            Self::GoogleNotConfigured => "google_not_configured",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal_error",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::SignInFailed => StatusCode::BAD_REQUEST,
            Self::SignInUnavailable => StatusCode::BAD_GATEWAY,
            Self::GoogleNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized
            | Self::ApiKeyMissing
            | Self::ApiKeyInvalid
            | Self::ApiKeyRevoked
            | Self::ApiKeyExpired => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CsrfRejected | Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound
            | Self::TenantNotFound
            | Self::SetupRequestNotFound
            | Self::ConversationNotFound
            | Self::MemberNotFound
            | Self::InvitationNotFound
            | Self::WebhookNotFound
            | Self::ApiKeyNotFound
            | Self::MessageNotFound
            | Self::PlanNotFound => StatusCode::NOT_FOUND,
            Self::InvitationExpired | Self::InvitationUsed | Self::InvitationRevoked => {
                StatusCode::GONE
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict
            | Self::PhoneNumberTaken
            | Self::IllegalTransition
            | Self::BotNotRunning
            | Self::OutsideWindow
            | Self::EmailInOtherTeam
            | Self::TeamFull => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited | Self::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code a bare HTTP status maps to, for errors raised outside our
    /// handlers (extractors, routing).
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            408 => Self::RequestTimeout,
            413 => Self::PayloadTooLarge,
            422 => Self::ValidationFailed,
            429 => Self::RateLimited,
            503 => Self::ServiceUnavailable,
            400..=499 => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-field validation messages, keyed by the form/JSON field name.
pub type FieldErrors = BTreeMap<String, String>;

pub struct AppError {
    code: ErrorCode,
    /// Shown to the user.
    message: Cow<'static, str>,
    fields: FieldErrors,
    /// Headers the response must carry (Retry-After, WWW-Authenticate).
    headers: Vec<(actix_web::http::header::HeaderName, String)>,
    /// Logged, never shown.
    source: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: FieldErrors::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    /// 401: the caller must sign in (pages redirect to their sign-in page).
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs().max(1);
        Self::new(
            ErrorCode::RateLimited,
            format!("Too many attempts. Try again in {secs} s."),
        )
        .with_header(actix_web::http::header::RETRY_AFTER, secs.to_string())
    }

    pub fn with_header(
        mut self,
        name: actix_web::http::header::HeaderName,
        value: impl Into<String>,
    ) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Something broke on our side: the user gets a generic message, the log the cause.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side. Please try again.",
        )
        .with_source(source)
    }

    pub fn not_found(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, message)
    }

    /// 422 with one message per offending field.
    pub fn validation(fields: FieldErrors) -> Self {
        let message = match fields.len() {
            1 => "One field needs attention.".to_owned(),
            n => format!("{n} fields need attention."),
        };
        Self {
            fields,
            ..Self::new(ErrorCode::ValidationFailed, message)
        }
    }

    /// Per-field messages on an error that is not a plain 422 (e.g. a 409).
    pub fn with_fields(mut self, fields: FieldErrors) -> Self {
        self.fields = fields;
        self
    }

    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn fields(&self) -> &FieldErrors {
        &self.fields
    }

    /// The full cause chain, for the log only.
    pub fn log_detail(&self) -> Option<String> {
        self.source.as_ref().map(|err| format!("{err:#}"))
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppError")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("fields", &self.fields)
            .field("source", &self.log_detail())
            .finish()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|err| err.as_ref())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => Self::new(
                ErrorCode::ServiceUnavailable,
                "The database is not reachable right now. Please try again shortly.",
            )
            .with_source(err),
            err => Self::internal(err),
        }
    }
}

/// The JSON body of every error under `/api`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: &'a FieldErrors,
    pub request_id: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    /// Without the middleware (which adds the request id), still no internals.
    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.as_str()));
        }
        builder.json(ErrorBody {
            error: self.code.as_str(),
            message: &self.message,
            fields: &self.fields,
            request_id: "",
        })
    }
}

/// An error's causes, outermost first, joined by ": ". An HTTP client's
/// own message ("error sending request for url …") names the URL and little
/// else, so only its sources when it has some.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let first = err.source().unwrap_or(err);
    std::iter::successors(Some(first), |&err| err.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_users() {
        let err = AppError::internal(anyhow::anyhow!("disk /var/lib/secret full"));
        assert_eq!(err.code().as_str(), "internal_error");
        assert!(!err.to_string().contains("/var/lib"));
        assert!(!err.message().contains("/var/lib"));
        assert!(
            err.log_detail()
                .unwrap()
                .contains("disk /var/lib/secret full")
        );
    }

    #[test]
    fn database_connection_loss_is_a_503() {
        let err = AppError::from(DbErr::Conn(sea_orm::RuntimeErr::Internal("refused".into())));
        assert_eq!(err.code(), ErrorCode::ServiceUnavailable);
        assert_eq!(err.code().status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn statuses_map_to_stable_codes() {
        assert_eq!(
            ErrorCode::from_status(StatusCode::NOT_FOUND),
            ErrorCode::NotFound
        );
        assert_eq!(
            ErrorCode::from_status(StatusCode::URI_TOO_LONG),
            ErrorCode::BadRequest
        );
        assert_eq!(
            ErrorCode::from_status(StatusCode::BAD_GATEWAY),
            ErrorCode::Internal
        );
        assert_eq!(ErrorCode::TenantNotFound.to_string(), "tenant_not_found");
    }
}
