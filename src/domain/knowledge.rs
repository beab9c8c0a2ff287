//! What a tenant tells its bot: business facts, services with prices, FAQ
//! entries and its own wording of the built-in answers.
//!
//! Owns: the knowledge document (`Knowledge`, stored as JSON and sent as
//! the `GET/PUT …/knowledge` body), its parsing from loose input
//! (`KnowledgeInput` → `Knowledge`, every problem named by its JSON path,
//! e.g. `services[2].price`), money in minor units, and the placeholders an
//! answer may use (`{business}`, `{address}`, …), checked on save.
//! Must not: match messages or render answers (that is `replies`), touch
//! the database or HTTP.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::language::Language;
use crate::error::FieldErrors;

/// Limits that keep one tenant's document (and the matcher built from it)
/// bounded: the body of a PUT stays under a megabyte.
pub const MAX_SERVICES: usize = 500;
pub const MAX_FAQ: usize = 1000;
pub const MAX_TRIGGERS: usize = 20;
pub const MAX_EXTRA_FACTS: usize = 30;
const MAX_SHORT: usize = 200;
const MAX_TEXT: usize = 2000;
const MAX_URL: usize = 2000;

/// The placeholders every answer may use, beyond the extra facts' keys.
pub const PLACEHOLDERS: &[&str] = &[
    "business",
    "hours",
    "next_opening",
    "services",
    "address",
    "maps_url",
    "phone",
    "email",
    "website",
    "booking_link",
    "booking_url",
    "payment",
    "delivery",
];

/// Everything the bot knows of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Knowledge {
    pub facts: Facts,
    /// In the owner's order.
    pub services: Vec<Service>,
    /// In the owner's order: the first entry that matches answers.
    pub faq: Vec<FaqEntry>,
    /// The owner's own texts by answer (`welcome`, `hours`, `prices`, …) and
    /// language (`en`, `de`, …); an answer not here uses the built-in default.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub answers: BTreeMap<AnswerKey, BTreeMap<Language, String>>,
    /// How the AI speaks for the business, when the owner turned it on.
    pub ai: AiProfile,
}

/// The owner's AI profile: off unless they turn it on (and the platform
/// has a model configured).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AiProfile {
    pub enabled: bool,
    /// Tone and formality in the owner's words ("warm, informal: du").
    pub tone: String,
    /// The owner's rules, one each ("always offer a free trial session").
    pub rules: Vec<String>,
}

/// The most rules an AI profile holds.
pub const MAX_AI_RULES: usize = 20;

/// Business facts; an empty string is "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Facts {
    pub address: String,
    pub maps_url: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub booking_url: String,
    pub payment: String,
    pub delivery: String,
    /// Anything else, by a key the answers use as `{key}`.
    pub extra: BTreeMap<String, String>,
}

impl Facts {
    /// The value of the placeholder `name`, when it is a fact (given or not).
    pub fn placeholder(&self, name: &str) -> Option<&str> {
        Some(match name {
            "address" => &self.address,
            "maps_url" => &self.maps_url,
            "phone" => &self.phone,
            "email" => &self.email,
            "website" => &self.website,
            "booking_link" | "booking_url" => &self.booking_url,
            "payment" => &self.payment,
            "delivery" => &self.delivery,
            other => return self.extra.get(other).map(String::as_str),
        })
    }
}

/// A service or product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub name: String,
    pub description: String,
    /// A decimal amount as text (`"25.00"`); `null`: price on request.
    #[serde(serialize_with = "serialize_price")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Money>,
    /// ISO 4217 (`"EUR"`).
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
    pub duration_minutes: Option<u32>,
    pub active: bool,
}

fn serialize_price<S: serde::Serializer>(price: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    match price {
        Some(money) => s.serialize_str(&money.amount('.')),
        None => s.serialize_none(),
    }
}

/// A question the owner answers once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FaqEntry {
    pub question: String,
    /// Words or phrases; accents, case and punctuation are ignored and they
    /// match whole words ("park*" matches any word starting with "park").
    pub triggers: Vec<String>,
    pub answer: String,
    /// The language the entry is written in (`en`, `de`, …); `null`: any.
    #[schema(value_type = Option<String>)]
    pub language: Option<Language>,
    pub enabled: bool,
}

/// An ISO 4217 code ("EUR").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(input: &str) -> Result<Self, String> {
        let code = input.trim().to_ascii_uppercase();
        match code.as_bytes() {
            [a, b, c] if code.bytes().all(|b| b.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(format!(
                "must be a three-letter currency code such as EUR or USD, not '{}'",
                input.trim()
            )),
        }
    }

    pub fn code(&self) -> &str {
        // INVARIANT: three ASCII letters (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217's minor unit): 2 but for
    /// the currencies listed. The list is ISO 4217's own (stable for
    /// decades); a crate for ten codes would be more weight than it saves.
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in a currency's minor unit (cents): no floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub exponent: u32,
}

impl Money {
    /// "25", "25.5", "25.50" or "25,50" in a currency with `exponent`
    /// decimals; more decimals than the currency has, a sign or a
    /// thousands separator are refused rather than guessed.
    pub fn parse(input: &str, exponent: u32) -> Result<Self, String> {
        let text = input.trim();
        let bad = || format!("must be an amount such as 25 or 25.50, not '{text}'");
        let (whole, fraction) = match text.split_once(['.', ',']) {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (text.contains(['.', ',']) && fraction.is_empty())
        {
            return Err(bad());
        }
        if fraction.len() > exponent as usize {
            return Err(format!(
                "has more decimals than the currency allows ({exponent})"
            ));
        }
        let scale = 10_i64.pow(exponent);
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let padded = format!("{fraction:0<width$}", width = exponent as usize);
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| bad())?
        };
        whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(fraction))
            .filter(|m| *m <= 1_000_000_000 * scale)
            .map(|minor| Self { minor, exponent })
            .ok_or_else(|| "is too large".to_owned())
    }

    /// The amount with `separator` before the decimals ("25.50").
    pub fn amount(&self, separator: char) -> String {
        if self.exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(self.exponent);
        format!(
            "{}{separator}{:0width$}",
            self.minor / scale,
            self.minor % scale,
            width = self.exponent as usize
        )
    }
}

/// The built-in answers an owner may reword, per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKey {
    /// First contact and greetings.
    Welcome,
    /// Opening hours (`{hours}` lists the week).
    Hours,
    /// Prices (`{services}` lists the services asked about, or all).
    Prices,
    /// A booking, an order or a ticket.
    Status,
    /// Handing over to a person while open.
    Human,
    /// Handing over to a person while closed.
    HumanClosed,
    /// Where the business is.
    Location,
    /// The help menu: what the bot did not understand.
    Help,
    /// The note put before the first answer out of hours ("" = no note).
    OutOfHours,
    /// Said once per conversation to a photo, voice note, sticker…: the
    /// bot reads text only (a person looks at the rest).
    TextOnly,
}

impl AnswerKey {
    pub const ALL: [AnswerKey; 10] = [
        AnswerKey::Welcome,
        AnswerKey::Hours,
        AnswerKey::Prices,
        AnswerKey::Status,
        AnswerKey::Human,
        AnswerKey::HumanClosed,
        AnswerKey::Location,
        AnswerKey::Help,
        AnswerKey::OutOfHours,
        AnswerKey::TextOnly,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AnswerKey::Welcome => "welcome",
            AnswerKey::Hours => "hours",
            AnswerKey::Prices => "prices",
            AnswerKey::Status => "status",
            AnswerKey::Human => "human",
            AnswerKey::HumanClosed => "human_closed",
            AnswerKey::Location => "location",
            AnswerKey::Help => "help",
            AnswerKey::OutOfHours => "out_of_hours",
            AnswerKey::TextOnly => "text_only",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == input.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "is not an answer ('{}'); use one of: {}",
                    input.trim(),
                    known.join(", ")
                )
            })
    }

    /// What the owner reads next to it.
    pub const fn label(self) -> &'static str {
        match self {
            AnswerKey::Welcome => "Welcome (first message, greetings)",
            AnswerKey::Hours => "Opening hours",
            AnswerKey::Prices => "Prices",
            AnswerKey::Status => "Booking / order / ticket status",
            AnswerKey::Human => "Handing over to a person (open)",
            AnswerKey::HumanClosed => "Handing over to a person (closed)",
            AnswerKey::Location => "Where you are",
            AnswerKey::Help => "Help menu (not understood)",
            AnswerKey::OutOfHours => "Out-of-hours note (empty: none)",
            AnswerKey::TextOnly => "I read text only (to photos, voice notes…)",
        }
    }

    /// Only the out-of-hours note may be empty (no note).
    const fn may_be_empty(self) -> bool {
        matches!(self, AnswerKey::OutOfHours)
    }
}

/// Loose input: what a JSON body or a stored document holds. Missing
/// fields are empty; `price` may be a number or a string. (`Serialize`
/// only because the OpenAPI derive reads `#[serde(default)]`'s values
/// through it.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeInput {
    pub facts: FactsInput,
    pub services: Vec<ServiceInput>,
    pub faq: Vec<FaqInput>,
    pub answers: BTreeMap<String, BTreeMap<String, String>>,
    pub ai: AiProfileInput,
}

/// The AI profile as sent: off unless `enabled`; rules are one line each.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AiProfileInput {
    pub enabled: Option<bool>,
    pub tone: Option<String>,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FactsInput {
    pub address: Option<String>,
    pub maps_url: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub booking_url: Option<String>,
    pub payment: Option<String>,
    pub delivery: Option<String>,
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceInput {
    pub name: String,
    pub description: Option<String>,
    /// A number or a decimal string (`25`, `"25.50"`); `null`: on request.
    #[schema(schema_with = number_or_string)]
    pub price: Option<Value>,
    pub currency: Option<String>,
    /// A whole number of minutes (or a string of one).
    #[schema(schema_with = number_or_string)]
    pub duration_minutes: Option<Value>,
    pub active: Option<bool>,
}

/// The documented type of a field the input takes as a number or a string.
fn number_or_string() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FaqInput {
    pub question: String,
    pub triggers: Vec<String>,
    pub answer: String,
    pub language: Option<String>,
    pub enabled: Option<bool>,
}

/// Collects per-field problems while parsing.
struct Problems(FieldErrors);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    fn text(&mut self, field: &str, value: Option<&str>, max: usize) -> String {
        let value = value.unwrap_or_default().trim();
        if value.chars().count() > max {
            self.add(field, format!("is longer than {max} characters"));
        }
        value.to_owned()
    }

    fn url(&mut self, field: &str, value: Option<&str>) -> String {
        let value = self.text(field, value, MAX_URL);
        if !value.is_empty() {
            match url::Url::parse(&value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => self.add(field, "must be a web address starting with https://"),
            }
        }
        value
    }
}

impl KnowledgeInput {
    /// The document this input describes, or every problem by its field.
    pub fn parse(self) -> Result<Knowledge, FieldErrors> {
        let mut p = Problems(FieldErrors::new());
        let facts = parse_facts(&mut p, self.facts);
        if self.services.len() > MAX_SERVICES {
            p.add(
                "services",
                format!("holds more than {MAX_SERVICES} entries"),
            );
        }
        let services = self
            .services
            .into_iter()
            .take(MAX_SERVICES)
            .enumerate()
            .map(|(i, s)| parse_service(&mut p, &format!("services[{i}]"), s))
            .collect();
        if self.faq.len() > MAX_FAQ {
            p.add("faq", format!("holds more than {MAX_FAQ} entries"));
        }
        let known = |name: &str| PLACEHOLDERS.contains(&name) || facts.extra.contains_key(name);
        let faq = self
            .faq
            .into_iter()
            .take(MAX_FAQ)
            .enumerate()
            .map(|(i, f)| parse_faq(&mut p, &format!("faq[{i}]"), f, &known))
            .collect();
        let mut answers: BTreeMap<AnswerKey, BTreeMap<Language, String>> = BTreeMap::new();
        for (key, texts) in self.answers {
            let field = format!("answers.{key}");
            let key = match AnswerKey::parse(&key) {
                Ok(key) => key,
                Err(err) => {
                    p.add(field, err);
                    continue;
                }
            };
            for (lang, text) in texts {
                let field = format!("{field}.{lang}");
                let Ok(lang) = Language::parse(&lang) else {
                    p.add(field, "is not a supported language (en, de, es, fr)");
                    continue;
                };
                match parse_answer_text(key, &text, &known) {
                    Ok(text) => {
                        answers.entry(key).or_default().insert(lang, text);
                    }
                    Err(err) => p.add(field, err),
                }
            }
        }
        let ai = parse_ai(&mut p, self.ai);
        if p.0.is_empty() {
            Ok(Knowledge {
                facts,
                services,
                faq,
                answers,
                ai,
            })
        } else {
            Err(p.0)
        }
    }
}

fn parse_ai(p: &mut Problems, input: AiProfileInput) -> AiProfile {
    if input.rules.len() > MAX_AI_RULES {
        p.add("ai.rules", format!("holds more than {MAX_AI_RULES} rules"));
    }
    let rules = input
        .rules
        .iter()
        .take(MAX_AI_RULES)
        .enumerate()
        .map(|(i, rule)| p.text(&format!("ai.rules[{i}]"), Some(rule), MAX_SHORT))
        .filter(|rule| !rule.is_empty())
        .collect();
    AiProfile {
        enabled: input.enabled.unwrap_or(false),
        tone: p.text("ai.tone", input.tone.as_deref(), MAX_SHORT),
        rules,
    }
}

/// One answer's text as the owner typed it: trimmed, not too long, only
/// known placeholders.
pub fn parse_answer_text(
    key: AnswerKey,
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() && !key.may_be_empty() {
        return Err("is empty: write a text, or reset it to the default".to_owned());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("is longer than {MAX_TEXT} characters"));
    }
    check_placeholders(text, known)?;
    Ok(text.to_owned())
}

/// Every `{name}` in `text` (a name is letters, digits and `_`; other
/// braces are plain text).
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|rest| {
        let (name, _) = rest.split_once('}')?;
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then_some(name)
    })
}

fn check_placeholders(text: &str, known: &dyn Fn(&str) -> bool) -> Result<(), String> {
    match placeholders(text).find(|name| !known(name)) {
        None => Ok(()),
        Some(name) => Err(format!(
            "uses the unknown placeholder {{{name}}}; known are {} and the extra facts' keys",
            PLACEHOLDERS
                .iter()
                .map(|p| format!("{{{p}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn parse_facts(p: &mut Problems, input: FactsInput) -> Facts {
    let email = p.text("facts.email", input.email.as_deref(), MAX_SHORT);
    if !email.is_empty()
        && !email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
    {
        p.add("facts.email", "must be an email address");
    }
    if input.extra.len() > MAX_EXTRA_FACTS {
        p.add(
            "facts.extra",
            format!("holds more than {MAX_EXTRA_FACTS} facts"),
        );
    }
    let mut extra = BTreeMap::new();
    for (key, value) in input.extra.into_iter().take(MAX_EXTRA_FACTS) {
        let field = format!("facts.extra.{key}");
        let name = key.trim().to_ascii_lowercase();
        let well_formed = name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            p.add(
                field,
                "needs a key of lowercase letters, digits and _ (it is used as {key})",
            );
            continue;
        }
        if PLACEHOLDERS.contains(&name.as_str()) {
            p.add(field, "is a built-in placeholder already");
            continue;
        }
        let value = p.text(&field, Some(&value), MAX_TEXT);
        extra.insert(name, value);
    }
    Facts {
        address: p.text("facts.address", input.address.as_deref(), MAX_TEXT),
        maps_url: p.url("facts.maps_url", input.maps_url.as_deref()),
        phone: p.text("facts.phone", input.phone.as_deref(), MAX_SHORT),
        email,
        website: p.url("facts.website", input.website.as_deref()),
        booking_url: p.url("facts.booking_url", input.booking_url.as_deref()),
        payment: p.text("facts.payment", input.payment.as_deref(), MAX_TEXT),
        delivery: p.text("facts.delivery", input.delivery.as_deref(), MAX_TEXT),
        extra,
    }
}

fn parse_service(p: &mut Problems, at: &str, input: ServiceInput) -> Service {
    let name = p.text(&format!("{at}.name"), Some(&input.name), MAX_SHORT);
    if name.is_empty() {
        p.add(format!("{at}.name"), "is required");
    }
    let description = p.text(
        &format!("{at}.description"),
        input.description.as_deref(),
        MAX_TEXT,
    );
    let currency = match input.currency.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => match Currency::parse(code) {
            Ok(c) => Some(c),
            Err(err) => {
                p.add(format!("{at}.currency"), err);
                None
            }
        },
    };
    let price_text = match &input.price {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            p.add(format!("{at}.price"), "must be an amount such as 25.50");
            None
        }
    };
    let price = price_text.and_then(|text| {
        let Some(currency) = currency else {
            p.add(format!("{at}.currency"), "is required with a price");
            return None;
        };
        Money::parse(&text, currency.exponent())
            .map_err(|err| p.add(format!("{at}.price"), err))
            .ok()
    });
    let duration_minutes = match &input.duration_minutes {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            match n {
                Some(n @ 1..=1440) => u32::try_from(n).ok(),
                _ => {
                    p.add(
                        format!("{at}.duration_minutes"),
                        "must be a whole number of minutes from 1 to 1440",
                    );
                    None
                }
            }
        }
    };
    Service {
        name,
        description,
        price,
        currency,
        duration_minutes,
        active: input.active.unwrap_or(true),
    }
}

fn parse_faq(
    p: &mut Problems,
    at: &str,
    input: FaqInput,
    known: &dyn Fn(&str) -> bool,
) -> FaqEntry {
    let question = p.text(&format!("{at}.question"), Some(&input.question), MAX_SHORT);
    if question.is_empty() {
        p.add(format!("{at}.question"), "is required");
    }
    if input.triggers.len() > MAX_TRIGGERS {
        p.add(
            format!("{at}.triggers"),
            format!("holds more than {MAX_TRIGGERS} words or phrases"),
        );
    }
    let triggers: Vec<String> = input
        .triggers
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .take(MAX_TRIGGERS)
        .collect();
    if triggers.is_empty() {
        p.add(
            format!("{at}.triggers"),
            "needs at least one word or phrase the question is asked with",
        );
    }
    for (i, trigger) in triggers.iter().enumerate() {
        if trigger.chars().count() > MAX_SHORT || !trigger.chars().any(char::is_alphanumeric) {
            p.add(
                format!("{at}.triggers[{i}]"),
                format!("must hold a word and be at most {MAX_SHORT} characters"),
            );
        }
    }
    let answer = match parse_answer_text(AnswerKey::Help, &input.answer, known) {
        Ok(answer) => answer,
        Err(err) => {
            p.add(
                format!("{at}.answer"),
                err.replace("reset it to the default", "remove the entry"),
            );
            String::new()
        }
    };
    let language = match input.language.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Language::parse(code)
            .map_err(|err| p.add(format!("{at}.language"), err))
            .ok(),
    };
    FaqEntry {
        question,
        triggers,
        answer,
        language,
        enabled: input.enabled.unwrap_or(true),
    }
}

impl Knowledge {
    /// The stored document back (it was checked when saved; a document that
    /// no longer parses is reported, never half-used).
    pub fn from_json(value: Value) -> Result<Self, String> {
        let input: KnowledgeInput = serde_json::from_value(value).map_err(|err| err.to_string())?;
        input.parse().map_err(|fields| {
            fields
                .into_iter()
                .map(|(field, message)| format!("{field} {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The owner's text of `key` in `language`, when they wrote one.
    pub fn answer(&self, key: AnswerKey, language: Language) -> Option<&str> {
        self.answers
            .get(&key)
            .and_then(|by_lang| by_lang.get(&language))
            .map(String::as_str)
    }

    /// Is `name` a placeholder answers of this document may use?
    pub fn knows_placeholder(&self, name: &str) -> bool {
        PLACEHOLDERS.contains(&name) || self.facts.extra.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Knowledge, FieldErrors> {
        serde_json::from_value::<KnowledgeInput>(value)
            .unwrap()
            .parse()
    }

    #[test]
    fn money_is_parsed_into_minor_units_of_its_currency() {
        let cases = [
            ("25", 2, Ok(2500)),
            ("25.5", 2, Ok(2550)),
            ("25,50", 2, Ok(2550)),
            ("0.99", 2, Ok(99)),
            ("1500", 0, Ok(1500)),
            ("1.250", 3, Ok(1250)),
            ("25.505", 2, Err(())),
            ("1.5", 0, Err(())),
            ("-3", 2, Err(())),
            ("1,000.00", 2, Err(())),
            ("abc", 2, Err(())),
            ("25.", 2, Err(())),
            ("", 2, Err(())),
        ];
        for (input, exponent, want) in cases {
            let got = Money::parse(input, exponent)
                .map(|m| m.minor)
                .map_err(|_| ());
            assert_eq!(got, want, "{input:?} with {exponent} decimals");
        }
        assert_eq!(Money::parse("25.5", 2).unwrap().amount(','), "25,50");
        assert_eq!(Money::parse("1500", 0).unwrap().amount('.'), "1500");
        assert_eq!(Money::parse("0.05", 2).unwrap().amount('.'), "0.05");
    }

    #[test]
    fn currencies_are_three_letters_with_their_iso_decimals() {
        assert_eq!(Currency::parse(" eur ").unwrap().code(), "EUR");
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("USD").unwrap().exponent(), 2);
        for bad in ["EU", "EURO", "€", "E1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_whole_document_parses_and_round_trips_through_its_json() {
        let doc = parse(json!({
            "facts": {"address": " Main St 1 ", "maps_url": "https://maps.example/x",
                      "extra": {"parking": "Behind the shop"}},
            "services": [
                {"name": "Haircut", "price": 25, "currency": "eur", "duration_minutes": 30},
                {"name": "Colour", "price": "49.90", "currency": "EUR", "active": false},
                {"name": "Consultation"}
            ],
            "faq": [{"question": "Parking?", "triggers": ["parking", "park*"],
                     "answer": "{parking}", "language": "en"}],
            "answers": {"location": {"en": "Find us at {address}"}},
            "ai": {"enabled": true, "tone": " warm, informal (du) ",
                   "rules": ["Always offer a free trial session", "  "]}
        }))
        .unwrap();
        assert_eq!(doc.facts.address, "Main St 1");
        assert!(doc.ai.enabled);
        assert_eq!(doc.ai.tone, "warm, informal (du)");
        assert_eq!(doc.ai.rules, ["Always offer a free trial session"]);
        assert_eq!(doc.services[0].price.unwrap().minor, 2500);
        assert!(!doc.services[1].active);
        assert_eq!(doc.services[2].price, None);
        assert_eq!(
            doc.answer(AnswerKey::Location, Language::En),
            Some("Find us at {address}")
        );
        let json = doc.to_json();
        assert_eq!(json["services"][0]["price"], "25.00");
        assert_eq!(json["services"][0]["currency"], "EUR");
        assert_eq!(json["faq"][0]["enabled"], true);
        assert_eq!(Knowledge::from_json(json).unwrap(), doc);
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let err = parse(json!({
            "facts": {"email": "nope", "website": "ftp://x", "extra": {"Bad Key": "x", "address": "y"}},
            "services": [{"name": "", "price": "12.345", "currency": "EUR"},
                         {"name": "Cut", "price": 10},
                         {"name": "Long", "duration_minutes": 0}],
            "faq": [{"question": "Q", "triggers": [], "answer": "Hi {nope}"}],
            "answers": {"hours": {"en": "Open {when}", "xx": "?"}, "weather": {"en": "sunny"},
                        "welcome": {"de": "  "}},
            "ai": {"tone": "x".repeat(201), "rules": ["y".repeat(201)]}
        }))
        .unwrap_err();
        for field in [
            "facts.email",
            "facts.website",
            "facts.extra.Bad Key",
            "facts.extra.address",
            "services[0].name",
            "services[0].price",
            "services[1].currency",
            "services[2].duration_minutes",
            "faq[0].triggers",
            "faq[0].answer",
            "answers.hours.en",
            "answers.hours.xx",
            "answers.weather",
            "answers.welcome.de",
            "ai.tone",
            "ai.rules[0]",
        ] {
            assert!(err.contains_key(field), "{field} missing in {err:?}");
        }
        assert!(err["answers.hours.en"].contains("{when}"), "{err:?}");
        assert!(err["faq[0].answer"].contains("{nope}"), "{err:?}");
    }

    #[test]
    fn ai_is_off_unless_turned_on_and_a_document_without_it_still_loads() {
        let doc = parse(json!({"facts": {"address": "Main St 1"}})).unwrap();
        assert_eq!(doc.ai, AiProfile::default());
        assert!(!doc.ai.enabled);
    }

    #[test]
    fn placeholders_are_names_in_braces_and_extra_facts_count() {
        let found: Vec<&str> = placeholders("Hi {business}, {x y} {} {a_1} {open").collect();
        assert_eq!(found, ["business", "a_1"]);
        let doc = parse(json!({
            "facts": {"extra": {"parking": "yes"}},
            "answers": {"location": {"en": "{address} – parking: {parking}"},
                        "out_of_hours": {"en": ""}}
        }))
        .unwrap();
        assert!(doc.knows_placeholder("parking"));
        assert_eq!(doc.answer(AnswerKey::OutOfHours, Language::En), Some(""));
    }

    #[test]
    fn answer_keys_parse_from_their_names() {
        for key in AnswerKey::ALL {
            assert_eq!(AnswerKey::parse(key.as_str()), Ok(key));
            let json = serde_json::to_value(key).unwrap();
            assert_eq!(json, key.as_str());
        }
        assert!(AnswerKey::parse("weather").is_err());
    }
}
