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
use super::runtime::phone::PhoneMessage;
use super::tenants;
use crate::domain::ids::TenantId;
use crate::domain::media;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};
use entity::enums::MessageKind;

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
    /// The linked phone itself writes to a customer (as the owner does
    /// from WhatsApp on the phone).
    fn phone_writes(&self, tenant: TenantId, message: PhoneMessage) -> Result<(), SandboxRefusal>;
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
    /// The text; for other kinds, the caption (optional).
    #[serde(default)]
    pub text: String,
    /// The message id (the dedup key); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// `text` (the default), `image`, `audio`, `video`, `document`,
    /// `sticker`, `location`, `contacts` or `button`: simulates what else a
    /// customer can send (no file travels; only its caption or name).
    #[serde(default)]
    pub kind: Option<String>,
    /// A document's file name.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// The kinds of message a sandbox customer can send, by their API names.
const KINDS: [(&str, MessageKind); 9] = [
    ("text", MessageKind::Text),
    ("image", MessageKind::Image),
    ("audio", MessageKind::Audio),
    ("video", MessageKind::Video),
    ("document", MessageKind::Document),
    ("sticker", MessageKind::Sticker),
    ("location", MessageKind::Location),
    ("contacts", MessageKind::Contacts),
    ("button", MessageKind::Button),
];

/// A message's kind and its text (the text, or what describes the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    kind: MessageKind,
    text: String,
}

/// The stored message: its id and sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: String,
    pub from: String,
    pub receipt: Receipt,
}

/// One rule for every way in: an E.164 sender, a known kind, a text of 1
/// to `MAX_TEXT_CHARS` characters (for other kinds an optional caption,
/// and a document's file name), an id of 1 to `MAX_ID_CHARS`.
fn parse(draft: CustomerDraft) -> Result<(PhoneNumber, Content, String), AppError> {
    let mut fields = FieldErrors::new();
    let from = PhoneNumber::parse(&draft.from)
        .map_err(|msg| fields.insert("from".to_owned(), msg))
        .ok();
    let name = draft.kind.as_deref().map_or("text", str::trim);
    let kind = KINDS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map_or_else(
            || {
                let names: Vec<&str> = KINDS.iter().map(|(known, _)| *known).collect();
                fields.insert(
                    "kind".to_owned(),
                    format!("must be one of {}", names.join(", ")),
                );
                MessageKind::Text
            },
            |(_, kind)| *kind,
        );
    let text = draft.text.trim();
    let file_name = draft
        .file_name
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    if file_name.is_some() && kind != MessageKind::Document {
        fields.insert("file_name".to_owned(), "is for documents only".to_owned());
    }
    if text.is_empty() && kind == MessageKind::Text {
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
    let text = match (kind, file_name) {
        (MessageKind::Text, _) => text.to_owned(),
        (_, Some(file)) if !text.is_empty() => media::detail(&format!("{file}: {text}")),
        (_, Some(file)) => media::detail(file),
        (_, None) => media::detail(text),
    };
    match from {
        Some(from) if fields.is_empty() => Ok((from, Content { kind, text }, id)),
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
    let (from, Content { kind, text }, id) = parse(draft)?;
    sandbox.accepts_messages(tenant)?;
    let message = CustomerMessage {
        id: id.clone(),
        from: from.into_string(),
        to: detail
            .session
            .linked_phone
            .unwrap_or_else(|| "bot".to_owned()),
        text,
        kind,
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
            ..CustomerDraft::default()
        }
    }

    #[test]
    fn a_sandbox_customer_can_send_a_photo_a_document_or_a_location() {
        let media = |kind: &str, text: &str, file: Option<&str>| CustomerDraft {
            kind: Some(kind.to_owned()),
            file_name: file.map(str::to_owned),
            ..draft("+4915112345678", text, None)
        };
        let (_, photo, _) = parse(media("IMAGE", "", None)).unwrap();
        assert_eq!(
            photo,
            Content {
                kind: MessageKind::Image,
                text: String::new()
            }
        );
        let (_, doc, _) = parse(media("document", "the menu", Some("menu.pdf"))).unwrap();
        assert_eq!(doc.kind, MessageKind::Document);
        assert_eq!(doc.text, "menu.pdf: the menu");
        let (_, text, _) = parse(draft("+4915112345678", "hi", None)).unwrap();
        assert_eq!(text.kind, MessageKind::Text, "text stays the default");
        for (case, field) in [
            (media("hologram", "", None), "kind"),
            (media("image", "", Some("a.jpg")), "file_name"),
        ] {
            let err = parse(case).unwrap_err();
            assert!(
                err.fields().contains_key(field),
                "{field}: {:?}",
                err.fields()
            );
        }
    }

    #[test]
    fn a_customer_message_follows_one_rule_whatever_the_way_in() {
        let ok = parse(draft("+4915112345678", "  hi  ", None)).unwrap();
        assert_eq!(ok.0.as_str(), "+4915112345678");
        assert_eq!(ok.1.text, "hi");
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
