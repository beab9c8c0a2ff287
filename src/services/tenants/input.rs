//! What users type to create or edit a tenant (the HTML forms and the
//! JSON API fill the same drafts) and its parse into valid values.

use chrono_tz::Tz;
use entity::enums::TemplateType;
use serde::Deserialize;

use crate::domain::hours::{BusinessHours, parse_timezone};
use crate::domain::language::Language;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, FieldErrors};

pub const DEFAULT_TIMEZONE: &str = "UTC";
pub const DEFAULT_RESPONSE_DELAY_MS: i32 = 1200;
pub const DEFAULT_MAX_MESSAGE_LENGTH: i32 = 4096;
/// WhatsApp refuses longer texts.
pub const MAX_MESSAGE_LENGTH_LIMIT: i32 = 4096;

/// What a user typed to create a tenant, before parsing. Both the HTML form
/// and the JSON API fill this, so they validate identically.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantDraft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub template_type: String,
    #[serde(default)]
    pub business_name: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub timezone: Option<String>,
    /// JSON: `{"mon": {"open": "09:00", "close": "18:00"}, …}`; the form
    /// handler parses its per-day fields into this too.
    #[serde(default)]
    pub hours: Option<serde_json::Value>,
}

/// A tenant to create, every field valid.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub phone_number: PhoneNumber,
    pub template_type: TemplateType,
    pub business_name: String,
    pub language: Language,
    pub timezone: Tz,
    pub hours: BusinessHours,
}

pub fn parse_template(input: &str) -> Result<TemplateType, String> {
    match input.trim().to_ascii_uppercase().as_str() {
        "BOOKING" => Ok(TemplateType::Booking),
        "ECOMMERCE" | "E-COMMERCE" => Ok(TemplateType::Ecommerce),
        "SUPPORT" => Ok(TemplateType::Support),
        "" => Err("choose a template".to_owned()),
        _ => Err("must be BOOKING, ECOMMERCE or SUPPORT".to_owned()),
    }
}

pub fn template_name(template: TemplateType) -> &'static str {
    match template {
        TemplateType::Booking => "BOOKING",
        TemplateType::Ecommerce => "ECOMMERCE",
        TemplateType::Support => "SUPPORT",
    }
}

fn required_text(field: &str, value: &str, max: usize, errors: &mut FieldErrors) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.insert(field.to_owned(), "is required".to_owned());
    } else if value.chars().count() > max {
        errors.insert(
            field.to_owned(),
            format!("must be at most {max} characters"),
        );
    }
    value.to_owned()
}

/// Collects the outcome of one field's parse into `errors`.
fn field<T>(field: &str, parsed: Result<T, String>, errors: &mut FieldErrors) -> Option<T> {
    parsed
        .map_err(|message| {
            errors.insert(field.to_owned(), message);
        })
        .ok()
}

impl TryFrom<TenantDraft> for NewTenant {
    type Error = AppError;

    fn try_from(draft: TenantDraft) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let name = required_text("name", &draft.name, 200, &mut errors);
        let business_name = required_text("business_name", &draft.business_name, 200, &mut errors);
        let phone_number = field(
            "phone_number",
            PhoneNumber::parse(&draft.phone_number),
            &mut errors,
        );
        let template_type = field(
            "template_type",
            parse_template(&draft.template_type),
            &mut errors,
        );
        let language = field("language", Language::parse(&draft.language), &mut errors);
        let timezone = match draft.timezone.as_deref().map(str::trim) {
            None | Some("") => parse_timezone(DEFAULT_TIMEZONE),
            Some(tz) => parse_timezone(tz),
        };
        let timezone = field("timezone", timezone, &mut errors);
        let hours = match &draft.hours {
            None | Some(serde_json::Value::Null) => Ok(BusinessHours::default()),
            Some(value) => BusinessHours::parse_json(value),
        };
        let hours = field("hours", hours, &mut errors);
        match (phone_number, template_type, language, timezone, hours) {
            (
                Some(phone_number),
                Some(template_type),
                Some(language),
                Some(timezone),
                Some(hours),
            ) if errors.is_empty() => Ok(Self {
                name,
                phone_number,
                template_type,
                business_name,
                language,
                timezone,
                hours,
            }),
            _ => Err(AppError::validation(errors)),
        }
    }
}

/// The longest a chat may stay with a person without a person's message.
pub const MAX_HUMAN_IDLE_MINUTES: i32 = 30 * 24 * 60;

/// An edit of a tenant; absent fields stay as they are (JSON PATCH). The
/// form sends every field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantUpdateDraft {
    pub name: Option<String>,
    pub phone_number: Option<String>,
    pub template_type: Option<String>,
    pub business_name: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub hours: Option<serde_json::Value>,
    pub welcome_message: Option<String>,
    pub auto_reply: Option<bool>,
    pub response_delay_ms: Option<i64>,
    pub max_message_length: Option<i64>,
    /// Replies per minute for the tenant; 0 means the platform default.
    pub rate_limit_per_minute: Option<i64>,
    /// Replies per minute within one chat; 0 means the platform default.
    pub chat_rate_limit_per_minute: Option<i64>,
    /// Minutes without a person's message before a chat goes back to the bot.
    pub human_idle_timeout_minutes: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub phone_number: Option<PhoneNumber>,
    pub template_type: Option<TemplateType>,
    pub business_name: Option<String>,
    pub language: Option<Language>,
    pub timezone: Option<Tz>,
    pub hours: Option<BusinessHours>,
    pub welcome_message: Option<String>,
    pub auto_reply: Option<bool>,
    pub response_delay_ms: Option<i32>,
    pub max_message_length: Option<i32>,
    /// `Some(None)` goes back to the platform default.
    pub rate_limit_per_minute: Option<Option<i32>>,
    pub chat_rate_limit_per_minute: Option<Option<i32>>,
    pub human_idle_timeout_minutes: Option<i32>,
}

impl TryFrom<TenantUpdateDraft> for TenantUpdate {
    type Error = AppError;

    fn try_from(draft: TenantUpdateDraft) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let mut update = TenantUpdate {
            name: draft
                .name
                .map(|v| required_text("name", &v, 200, &mut errors)),
            business_name: draft
                .business_name
                .map(|v| required_text("business_name", &v, 200, &mut errors)),
            welcome_message: draft
                .welcome_message
                .map(|v| required_text("welcome_message", &v, 1000, &mut errors)),
            auto_reply: draft.auto_reply,
            ..Default::default()
        };
        update.phone_number = draft
            .phone_number
            .and_then(|v| field("phone_number", PhoneNumber::parse(&v), &mut errors));
        update.template_type = draft
            .template_type
            .and_then(|v| field("template_type", parse_template(&v), &mut errors));
        update.language = draft
            .language
            .and_then(|v| field("language", Language::parse(&v), &mut errors));
        update.timezone = draft
            .timezone
            .and_then(|v| field("timezone", parse_timezone(v.trim()), &mut errors));
        update.hours = draft
            .hours
            .and_then(|v| field("hours", BusinessHours::parse_json(&v), &mut errors));
        update.response_delay_ms = draft.response_delay_ms.and_then(|v| {
            let parsed = i32::try_from(v)
                .ok()
                .filter(|v| (0..=30_000).contains(v))
                .ok_or_else(|| "must be between 0 and 30000 milliseconds".to_owned());
            field("response_delay_ms", parsed, &mut errors)
        });
        update.max_message_length = draft.max_message_length.and_then(|v| {
            let parsed = i32::try_from(v)
                .ok()
                .filter(|v| (160..=MAX_MESSAGE_LENGTH_LIMIT).contains(v))
                .ok_or_else(|| format!("must be between 160 and {MAX_MESSAGE_LENGTH_LIMIT}"));
            field("max_message_length", parsed, &mut errors)
        });
        update.rate_limit_per_minute = draft
            .rate_limit_per_minute
            .and_then(|v| field("rate_limit_per_minute", rate_override(v), &mut errors));
        update.chat_rate_limit_per_minute = draft
            .chat_rate_limit_per_minute
            .and_then(|v| field("chat_rate_limit_per_minute", rate_override(v), &mut errors));
        update.human_idle_timeout_minutes = draft.human_idle_timeout_minutes.and_then(|v| {
            let parsed = i32::try_from(v)
                .ok()
                .filter(|v| (5..=MAX_HUMAN_IDLE_MINUTES).contains(v))
                .ok_or_else(|| {
                    format!("must be between 5 and {MAX_HUMAN_IDLE_MINUTES} minutes (30 days)")
                });
            field("human_idle_timeout_minutes", parsed, &mut errors)
        });
        if errors.is_empty() {
            Ok(update)
        } else {
            Err(AppError::validation(errors))
        }
    }
}

/// A per-tenant rate override: 0 clears it, 1 to 100,000 per minute sets it.
fn rate_override(value: i64) -> Result<Option<i32>, String> {
    match value {
        0 => Ok(None),
        1..=100_000 => Ok(i32::try_from(value).ok()),
        _ => {
            Err("must be between 1 and 100000 per minute, or 0 for the platform default".to_owned())
        }
    }
}
