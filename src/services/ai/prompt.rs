//! What the model is told: the business's profile and knowledge sheet as
//! the only knowledge, the rules of the answer, the conversation so far,
//! and the customer's message(s). Pure: the same input, the same prompt.

use chrono::DateTime;
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::knowledge::AiProfile;
use crate::domain::language::Language;

/// One earlier message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub from_customer: bool,
    pub text: String,
}

/// Everything the model is given for one answer.
#[derive(Debug, Clone)]
pub struct Prompt<'a> {
    pub profile: &'a AiProfile,
    pub business_name: &'a str,
    pub language: Language,
    pub local_time: DateTime<Tz>,
    /// `replies::knowledge_sheet`: facts, hours, services, FAQ.
    pub sheet: &'a str,
    /// Earlier messages, oldest first (since the chat last went back to
    /// the bot).
    pub history: &'a [Turn],
    /// The customer's message, or several sent together (one per line).
    pub question: &'a str,
}

/// The system message.
pub fn system(prompt: &Prompt) -> String {
    let mut text = format!(
        "You answer customers of {business} on WhatsApp, on behalf of the business.\n\
         Answer in the customer's language (the business's language is {language}), briefly \
         (at most a few sentences), friendly, plain text without markdown.\n\
         Use ONLY the business information below. Never invent or estimate a price, time, \
         date, duration, phone number, address or any other figure or fact that is not in it; \
         if the information does not answer the question, ask one short clarifying question \
         (kind \"clarify\") or hand the chat to a person (kind \"handoff\").\n\
         Hand off (kind \"handoff\") when the customer asks for a person, complains, wants to \
         book, cancel or change something you cannot do, or asks about medical, legal or \
         payment problems.\n\
         Reply with a JSON object {{\"kind\": \"answer\" | \"clarify\" | \"handoff\", \"text\": \
         \"…\"}}.\n\
         The local time at the business is {time}.\n",
        business = prompt.business_name.trim(),
        language = prompt.language.name(),
        time = prompt.local_time.format("%A %Y-%m-%d %H:%M"),
    );
    let profile = prompt.profile;
    if !profile.tone.is_empty() {
        text.push_str(&format!("Tone: {}\n", profile.tone));
    }
    if !profile.rules.is_empty() {
        text.push_str("Rules of the business:\n");
        for rule in &profile.rules {
            text.push_str(&format!("- {rule}\n"));
        }
    }
    text.push_str("\nBusiness information:\n");
    text.push_str(prompt.sheet);
    text
}

/// The JSON schema the answer must follow (`response_format`).
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["answer", "clarify", "handoff"]},
            "text": {"type": "string"}
        },
        "required": ["kind", "text"],
        "additionalProperties": false
    })
}

/// What the model decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Answer,
    Clarify,
    Handoff,
}

/// The model's structured answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Structured {
    pub kind: Kind,
    #[serde(default)]
    pub text: String,
}

/// The model's content parsed: the JSON object, also when a model wrapped
/// it in a code fence. `None`: not in the expected form.
pub fn parse(content: &str) -> Option<Structured> {
    let trimmed = content.trim();
    let inner = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim();
    let structured: Structured = serde_json::from_str(inner).ok()?;
    match structured.kind {
        Kind::Answer | Kind::Clarify if structured.text.trim().is_empty() => None,
        _ => Some(structured),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_system_message_holds_the_profile_the_knowledge_and_the_local_time() {
        let profile = AiProfile {
            enabled: true,
            tone: "warm, informal (du)".into(),
            rules: vec!["Always offer a free trial session".into()],
        };
        let at = chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 12, 7, 23, 5, 0)
            .unwrap();
        let text = system(&Prompt {
            profile: &profile,
            business_name: "Salon Luna",
            language: Language::De,
            local_time: at,
            sheet: "Services and prices:\n• Haircut: 25.00 EUR",
            history: &[],
            question: "Habt ihr Gutscheine?",
        });
        for expected in [
            "customers of Salon Luna",
            "Monday 2026-12-07 23:05",
            "Tone: warm, informal (du)",
            "- Always offer a free trial session",
            "• Haircut: 25.00 EUR",
            "\"handoff\"",
        ] {
            assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
        }
    }

    #[test]
    fn structured_answers_parse_and_anything_else_is_refused() {
        assert_eq!(
            parse(r#"{"kind": "answer", "text": "Yes!"}"#),
            Some(Structured {
                kind: Kind::Answer,
                text: "Yes!".into()
            })
        );
        assert_eq!(
            parse("```json\n{\"kind\": \"handoff\", \"text\": \"\"}\n```").map(|s| s.kind),
            Some(Kind::Handoff)
        );
        for refused in [
            "Sure, a haircut is 25 EUR.",
            r#"{"kind": "answer", "text": "  "}"#,
            r#"{"kind": "shout", "text": "HI"}"#,
            "",
        ] {
            assert_eq!(parse(refused), None, "{refused:?}");
        }
    }
}
