//! Use cases on the sandbox, the built-in simulated WhatsApp: scanning its
//! QR code with a (simulated) phone, a customer writing to the bot, and
//! what the bot sent. The admin console, the portal and the JSON API call
//! these; the same rules hold for all of them.
//!
//! A customer's message is stored before it is acknowledged (`Receipt`):
//! an acknowledged message is never lost, whatever happens to the process.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::control::{BotControl, CustomerMessage, Receipt};
use super::tenants;
use crate::domain::ids::TenantId;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// The longest customer message the sandbox takes: WhatsApp's own limit.
pub const MAX_TEXT_CHARS: usize = 4096;
/// The longest message id a customer message may carry.
pub const MAX_ID_CHARS: usize = 128;
/// The number that "scans" when a tenant has none yet.
const FALLBACK_PHONE: &str = "+10000000000";

/// Why the sandbox refused.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SandboxRefusal {
    #[error("the bot is not running: start it first")]
    NotRunning,
    #[error("the bot is not showing a QR code right now")]
    NotWaitingForScan,
    #[error("the sandbox is not linked yet: scan the QR code first")]
    NotLinked,
    #[error("the bot's inbox is full; try again in a moment")]
    InboxFull,
}

impl From<SandboxRefusal> for AppError {
    fn from(refusal: SandboxRefusal) -> Self {
        AppError::new(
            ErrorCode::Conflict,
            crate::text::sentence(&refusal.to_string()),
        )
    }
}

/// A message the bot sent to a sandbox customer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SandboxSent {
    pub to: String,
    pub text: String,
    pub id: String,
    pub sent_at: DateTime<Utc>,
}

/// The simulated phone's end of the sandbox transport (`SandboxHub`).
pub trait SandboxPhone: Send + Sync {
    /// Scans the QR code the tenant's bot shows, as `phone`.
    fn scan(&self, tenant: TenantId, phone: &str) -> Result<(), SandboxRefusal>;
    /// Whether a customer can write now: the bot runs and is linked.
    fn accepts_messages(&self, tenant: TenantId) -> Result<(), SandboxRefusal>;
    /// What the bot sent, oldest first.
    fn outbox(&self, tenant: TenantId) -> Vec<SandboxSent>;
}

/// Scans the tenant's QR code with `phone`, or with the tenant's own number
/// when none is given. Answers the number that scanned.
pub async fn scan(
    db: &sea_orm::DatabaseConnection,
    sandbox: &dyn SandboxPhone,
    tenant: TenantId,
    phone: Option<&str>,
) -> Result<String, AppError> {
    let detail = tenants::get(db, tenant).await?;
    let phone = match phone {
        Some(phone) => PhoneNumber::parse(phone)
            .map_err(|msg| AppError::validation(FieldErrors::from([("phone".to_owned(), msg)])))?
            .into_string(),
        None => detail
            .tenant
            .phone_number
            .unwrap_or_else(|| FALLBACK_PHONE.to_owned()),
    };
    sandbox.scan(tenant, &phone)?;
    Ok(phone)
}

/// What a customer typed into the sandbox, before parsing.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDraft {
    /// Missing is refused by `parse` (422 naming it), like empty.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub text: String,
    /// The message id (the dedup key); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
}

/// The stored message: its id and sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: String,
    pub from: String,
    pub receipt: Receipt,
}

/// One rule for every way in: an E.164 sender, a text of 1 to
/// `MAX_TEXT_CHARS` characters, an id of 1 to `MAX_ID_CHARS`.
fn parse(draft: CustomerDraft) -> Result<(PhoneNumber, String, String), AppError> {
    let mut fields = FieldErrors::new();
    let from = PhoneNumber::parse(&draft.from)
        .map_err(|msg| fields.insert("from".to_owned(), msg))
        .ok();
    let text = draft.text.trim();
    if text.is_empty() {
        fields.insert("text".to_owned(), "is required".to_owned());
    } else if text.chars().count() > MAX_TEXT_CHARS {
        fields.insert(
            "text".to_owned(),
            format!("must have at most {MAX_TEXT_CHARS} characters"),
        );
    }
    let id = draft
        .id
        .unwrap_or_else(|| format!("sandbox-in.{}", Uuid::new_v4().simple()));
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        fields.insert(
            "id".to_owned(),
            format!("must have 1 to {MAX_ID_CHARS} characters"),
        );
    }
    match from {
        Some(from) if fields.is_empty() => Ok((from, text.to_owned(), id)),
        _ => Err(AppError::validation(fields)),
    }
}

/// A sandbox customer writes to the tenant's bot. Refused while the bot
/// does not run or is not linked (nobody could write to it then); else
/// stored first, then handed to the bot.
pub async fn customer_writes(
    db: &sea_orm::DatabaseConnection,
    bots: &dyn BotControl,
    sandbox: &dyn SandboxPhone,
    tenant: TenantId,
    draft: CustomerDraft,
) -> Result<Written, AppError> {
    let detail = tenants::get(db, tenant).await?;
    let (from, text, id) = parse(draft)?;
    sandbox.accepts_messages(tenant)?;
    let message = CustomerMessage {
        id: id.clone(),
        from: from.into_string(),
        to: detail
            .session
            .linked_phone
            .unwrap_or_else(|| "bot".to_owned()),
        text,
        at: Utc::now(),
        contact_name: None,
    };
    let from = message.from.clone();
    let receipt = bots.receive(tenant, message).await?;
    Ok(Written { id, from, receipt })
}

/// What the bot sent to the tenant's sandbox customers.
pub async fn outbox(
    db: &sea_orm::DatabaseConnection,
    sandbox: &dyn SandboxPhone,
    tenant: TenantId,
) -> Result<Vec<SandboxSent>, AppError> {
    tenants::get(db, tenant).await?;
    Ok(sandbox.outbox(tenant))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(from: &str, text: &str, id: Option<&str>) -> CustomerDraft {
        CustomerDraft {
            from: from.to_owned(),
            text: text.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn a_customer_message_follows_one_rule_whatever_the_way_in() {
        let ok = parse(draft("+4915112345678", "  hi  ", None)).unwrap();
        assert_eq!(ok.0.as_str(), "+4915112345678");
        assert_eq!(ok.1, "hi");
        assert!(ok.2.starts_with("sandbox-in."));

        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        assert!(parse(draft("+4915112345678", &at_limit, Some("m"))).is_ok());

        for (case, field) in [
            (
                draft("+4915112345678", &"a".repeat(MAX_TEXT_CHARS + 1), None),
                "text",
            ),
            (draft("+4915112345678", "   ", None), "text"),
            (draft("12", "hi", None), "from"),
            (draft("+4915112345678", "hi", Some("")), "id"),
            (
                draft("+4915112345678", "hi", Some(&"x".repeat(MAX_ID_CHARS + 1))),
                "id",
            ),
        ] {
            let err = parse(case).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ValidationFailed);
            assert!(
                err.fields().contains_key(field),
                "{field}: {:?}",
                err.fields()
            );
        }
    }
}
