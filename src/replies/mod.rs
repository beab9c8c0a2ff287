//! The reply engine: what the bot answers, from what the tenant told it.
//!
//! Owns: deciding the answer to one customer message, first match wins:
//! the tenant's FAQ entry → a built-in intent (`intent`) filled with the
//! tenant's facts and services → the help menu (a fall-through the caller
//! records as unanswered; an AI step would slot in right there, before the
//! help menu is sent). Every built-in text has a default per language
//! (`texts`) the owner may reword (`domain::knowledge::AnswerKey`); answers
//! are cut to the tenant's maximum message length (`split`). Outside
//! business hours the bot answers all the same; only its promise about
//! people changes, and an out-of-hours note leads the first answer of a
//! conversation. The tenant's knowledge is compiled once per settings load
//! (`knowledge`), so an answer costs microseconds.
//!
//! Must not: do I/O, read the clock, send, log, sleep or simulate typing. The
//! bot actor asks `reply` what to say and then owns the how and when (typing
//! delay, rate limits, sending, logging).

mod intent;
mod knowledge;
mod split;
mod texts;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use entity::enums::TemplateType;

use crate::domain::hours::BusinessHours;
use crate::domain::knowledge::{AnswerKey, Service};
use crate::domain::language::Language;

pub use intent::{Intent, detect_intent, detect_intent_in, normalise};
pub use knowledge::CompiledKnowledge;
pub use split::split_message;

use texts::{Texts, fill, fill_with, texts};

/// What the engine knows about a tenant when it answers one message.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    pub template: TemplateType,
    pub language: Language,
    pub business_name: &'a str,
    /// Sent on first contact and to greetings unless the owner wrote a
    /// `welcome` answer. Blank means the language's default welcome
    /// (`Language::default_welcome_message`).
    pub welcome_message: &'a str,
    pub hours: &'a BusinessHours,
    /// The tenant's time zone: business hours are its wall-clock times.
    pub timezone: Tz,
    /// Characters (not bytes) per sent message; 0 counts as 1.
    pub max_message_length: usize,
    /// No earlier message from this customer in this chat.
    pub first_contact: bool,
    /// The tenant's people are told at once when a chat needs one of them
    /// (email): only then does the bot promise a quick answer.
    pub people_notified: bool,
    /// Facts, services, FAQ entries and the owner's wording.
    pub knowledge: &'a CompiledKnowledge,
    /// The conversation has not had the out-of-hours note lately: out of
    /// hours, it leads the answer.
    pub out_of_hours_note_due: bool,
}

/// Which rule answered the customer's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The owner's FAQ entry (its index in the document's `faq`).
    Faq(usize),
    /// A built-in intent, filled with the tenant's facts and services.
    Intent(Intent),
    /// The AI model, from the tenant's facts, services and FAQ.
    Ai,
    /// Nothing the bot knows answers it: the help menu (on first contact,
    /// the welcome, which lists what one can ask).
    HelpMenu,
}

impl Rule {
    /// The stable name of the kind of rule: `faq`, `intent`, `ai`,
    /// `help_menu`.
    pub const fn kind(self) -> &'static str {
        match self {
            Rule::Faq(_) => "faq",
            Rule::Intent(_) => "intent",
            Rule::Ai => "ai",
            Rule::HelpMenu => "help_menu",
        }
    }
}

/// The messages to send, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// In order, each at most `max_message_length` characters.
    pub parts: Vec<String>,
    pub rule: Rule,
    /// The out-of-hours note leads `parts` (the conversation remembers it).
    pub out_of_hours_note: bool,
}

impl Answer {
    /// Nothing the tenant told the bot answered the question: the caller
    /// records it as unanswered (and an AI step, when there is one, may
    /// answer instead of the help menu).
    pub fn fell_through(&self) -> bool {
        self.rule == Rule::HelpMenu
    }
}

/// The answer to `text` arriving at `now`.
///
/// - The first enabled FAQ entry one of whose triggers the message holds.
/// - Else the intent's built-in answer, in the owner's wording when they
///   wrote one, with the tenant's facts and services filled in ("how much
///   is a haircut?" lists the haircut; a price question naming no service
///   lists all active ones). A location question with no address known is
///   not answered (help menu).
/// - Else the help menu.
/// - First contact or a greeting: the welcome message first (on first
///   contact with nothing understood, the welcome alone: it lists what one
///   can ask).
/// - Out of business hours (tenant time zone): the same answers, but a
///   request for a person is promised an answer at the next opening
///   (weekday and HH:MM, local time), and the out-of-hours note leads when
///   `out_of_hours_note_due` and the owner did not blank it.
///
/// The result is empty only when there is nothing visible to send, which
/// the built-in texts never are.
pub fn reply(ctx: &ReplyContext, text: &str, now: DateTime<Utc>) -> Answer {
    let normalised = normalise(text);
    let words: Vec<&str> = normalised.split_whitespace().collect();
    let rule = match ctx.knowledge.faq_for(&words) {
        Some(entry) => Rule::Faq(entry),
        None => match detect_intent_in(&words, ctx.language) {
            Intent::Unknown => Rule::HelpMenu,
            Intent::Location
                if ctx.knowledge.doc().facts.address.is_empty()
                    && ctx
                        .knowledge
                        .doc()
                        .answer(AnswerKey::Location, ctx.language)
                        .is_none() =>
            {
                Rule::HelpMenu
            }
            intent => Rule::Intent(intent),
        },
    };
    compose(ctx, rule, &words, now, None)
}

/// The answer of `rule` itself, as `reply` would give it: a person asked
/// for by other means (the AI's handoff) gets the handoff answer.
pub fn reply_by(ctx: &ReplyContext, rule: Rule, now: DateTime<Utc>) -> Answer {
    compose(ctx, rule, &[], now, None)
}

/// `text` (an answer the AI wrote) sent as the bot's answer: with the
/// welcome on first contact and the out-of-hours note when due, cut to the
/// tenant's message length, like every other answer.
pub fn reply_with(ctx: &ReplyContext, text: &str, now: DateTime<Utc>) -> Answer {
    compose(ctx, Rule::Ai, &[], now, Some(text))
}

/// What the bot knows, as text: the AI model's only knowledge, and what
/// the guardrail lets an AI answer name (prices, times, numbers). The
/// business, its facts, opening hours and whether it is open at `now` (and
/// when it opens next), its active services with prices, and its enabled
/// FAQ entries with their answers filled in.
pub fn knowledge_sheet(ctx: &ReplyContext, now: DateTime<Utc>) -> String {
    let (fill, open) = Filler::at(ctx, now);
    let t = fill.t;
    let doc = ctx.knowledge.doc();
    let mut sheet = format!("Business: {}\n", fill.text("{business}"));
    let facts = &doc.facts;
    for (label, value) in [
        ("Address", &facts.address),
        ("Map", &facts.maps_url),
        ("Phone", &facts.phone),
        ("Email", &facts.email),
        ("Website", &facts.website),
        ("Booking link", &facts.booking_url),
        ("Payment", &facts.payment),
        ("Delivery / pick-up", &facts.delivery),
    ] {
        if !value.is_empty() {
            sheet.push_str(&format!("{label}: {value}\n"));
        }
    }
    for (key, value) in &facts.extra {
        sheet.push_str(&format!("{key}: {value}\n"));
    }
    sheet.push_str(&format!(
        "\nOpening hours ({}):\n{}\n",
        ctx.timezone.name(),
        opening_hours(ctx.hours, t)
    ));
    sheet.push_str(&match fill.next_opening {
        None if open => "Open now.\n".to_owned(),
        Some(opening) => format!("Closed now; opens {}.\n", next_opening(t, opening)),
        None => "Closed now.\n".to_owned(),
    });
    let services: Vec<String> = ctx
        .knowledge
        .active_services()
        .map(|(_, service)| service_line(t, service))
        .collect();
    if !services.is_empty() {
        sheet.push_str(&format!(
            "\nServices and prices:\n{}\n",
            services.join("\n")
        ));
    }
    let faq: Vec<String> = doc
        .faq
        .iter()
        .filter(|entry| entry.enabled)
        .map(|entry| format!("Q: {}\nA: {}", entry.question, fill.text(&entry.answer)))
        .collect();
    if !faq.is_empty() {
        sheet.push_str(&format!(
            "\nFrequently asked questions:\n{}\n",
            faq.join("\n")
        ));
    }
    sheet
}

/// The parts of the answer of `rule` (or of `own`, a text written
/// elsewhere) to a message of `words` arriving at `now`.
fn compose(
    ctx: &ReplyContext,
    rule: Rule,
    words: &[&str],
    now: DateTime<Utc>,
    own: Option<&str>,
) -> Answer {
    let (fill, open) = Filler::at(ctx, now);
    let t = fill.t;

    let mut answers = Vec::with_capacity(3);
    let greeting = rule == Rule::Intent(Intent::Greeting);
    if ctx.first_contact || greeting {
        answers.push(welcome(&fill));
    }
    // The welcome answers a greeting, and on first contact stands in for
    // the help menu (it lists what one can ask).
    let welcome_is_the_answer = greeting || (ctx.first_contact && rule == Rule::HelpMenu);
    if let Some(own) = own {
        answers.push(own.trim().to_owned());
    } else if !welcome_is_the_answer {
        answers.push(answer(&fill, rule, words, open));
    }
    // A person promised "when we open on …" needs no note saying the same.
    let mut out_of_hours_note = false;
    if !open && ctx.out_of_hours_note_due && rule != Rule::Intent(Intent::Human) {
        let note = fill.owned(AnswerKey::OutOfHours).unwrap_or_else(|| {
            if fill.next_opening.is_some() {
                fill.text(t.closed_until)
            } else {
                t.closed.to_owned()
            }
        });
        if !note.is_empty() {
            answers.insert(0, note);
            out_of_hours_note = true;
        }
    }

    Answer {
        parts: answers
            .iter()
            .flat_map(|a| split_message(a, ctx.max_message_length))
            .collect(),
        rule,
        out_of_hours_note,
    }
}

/// Would `key` (a normalised question) still fall through to the help
/// menu with this knowledge? (An FAQ entry added since answers it.)
pub fn falls_through(knowledge: &CompiledKnowledge, language: Language, key: &str) -> bool {
    let words: Vec<&str> = key.split_whitespace().collect();
    knowledge.faq_for(&words).is_none()
        && match detect_intent_in(&words, language) {
            Intent::Unknown => true,
            Intent::Location => knowledge.doc().facts.address.is_empty(),
            _ => false,
        }
}

/// The built-in text of `key` in `language`, as the owner edits it
/// (placeholders not filled): what "reset to default" brings back.
pub fn default_answer(
    key: AnswerKey,
    language: Language,
    template: TemplateType,
    doc: &crate::domain::knowledge::Knowledge,
) -> String {
    let t = texts(language);
    let tt = t.template(template);
    match key {
        AnswerKey::Welcome => language.default_welcome_message("{business}"),
        AnswerKey::Hours => format!("{}\n{{hours}}", t.hours_title),
        AnswerKey::Prices if doc.services.iter().any(|s| s.active) => t.prices_list.to_owned(),
        AnswerKey::Prices => tt.prices.to_owned(),
        AnswerKey::Status => tt.status.to_owned(),
        AnswerKey::Human => t.human.to_owned(),
        AnswerKey::HumanClosed => t.human_closed.to_owned(),
        AnswerKey::Location => t.location.to_owned(),
        AnswerKey::Help => help_lines(t, template, !doc.facts.address.is_empty()),
        AnswerKey::OutOfHours => t.closed_until.to_owned(),
        AnswerKey::TextOnly => crate::domain::media::text_only_notice(language).to_owned(),
    }
}

/// What the bot says once per conversation to a photo, voice note,
/// sticker…: the owner's wording, or the language's default.
pub fn text_only_notice(ctx: &ReplyContext, now: DateTime<Utc>) -> String {
    let (fill, _) = Filler::at(ctx, now);
    fill.owned(AnswerKey::TextOnly)
        .unwrap_or_else(|| crate::domain::media::text_only_notice(ctx.language).to_owned())
}

/// Fills placeholders with the tenant's facts, hours and services.
struct Filler<'a> {
    ctx: &'a ReplyContext<'a>,
    t: &'static Texts,
    /// `Some` while closed with a next opening (tenant time zone).
    next_opening: Option<DateTime<Tz>>,
    /// The services `{services}` lists (all active ones when empty).
    services: Vec<usize>,
}

impl<'a> Filler<'a> {
    /// The filler of `ctx` at `now`, and whether the business is open then.
    fn at(ctx: &'a ReplyContext<'a>, now: DateTime<Utc>) -> (Self, bool) {
        let local_now = now.with_timezone(&ctx.timezone);
        let open = ctx.hours.is_open_at(local_now);
        let fill = Filler {
            ctx,
            t: texts(ctx.language),
            next_opening: if open {
                None
            } else {
                ctx.hours.next_opening(local_now)
            },
            services: Vec::new(),
        };
        (fill, open)
    }

    fn value(&self, name: &str) -> Option<String> {
        let ctx = self.ctx;
        Some(match name {
            "business" => {
                let name = ctx.business_name.trim();
                if name.is_empty() {
                    self.t.our_team.to_owned()
                } else {
                    name.to_owned()
                }
            }
            "hours" => opening_hours(ctx.hours, self.t),
            "next_opening" => self
                .next_opening
                .map(|o| next_opening(self.t, o))
                .unwrap_or_default(),
            "services" => self.services_list(),
            fact => ctx.knowledge.doc().facts.placeholder(fact)?.to_owned(),
        })
    }

    /// `template` filled, each line's trailing blanks and empty lines at
    /// the end dropped (a fact left empty leaves no gap).
    fn text(&self, template: &str) -> String {
        let filled = fill_with(template, |name| self.value(name));
        let lines: Vec<&str> = filled.lines().map(str::trim_end).collect();
        lines.join("\n").trim().to_owned()
    }

    /// The owner's text of `key`, filled; `None` when they wrote none.
    fn owned(&self, key: AnswerKey) -> Option<String> {
        let ctx = self.ctx;
        ctx.knowledge
            .doc()
            .answer(key, ctx.language)
            .map(|text| self.text(text))
    }

    fn services_list(&self) -> String {
        let knowledge = self.ctx.knowledge;
        let line = |service: &Service| service_line(self.t, service);
        if self.services.is_empty() {
            knowledge
                .active_services()
                .map(|(_, s)| line(s))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            self.services
                .iter()
                .filter_map(|&i| knowledge.doc().services.get(i))
                .map(line)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// "• Haircut: 25.00 EUR (30 min) – wash included".
fn service_line(t: &Texts, service: &Service) -> String {
    let mut line = format!("• {}", service.name);
    if let (Some(price), Some(currency)) = (service.price, service.currency) {
        line.push_str(&format!(": {} {currency}", price.amount(t.decimal)));
    }
    if let Some(minutes) = service.duration_minutes {
        let minutes = fill(t.minutes, &[("minutes", &minutes.to_string())]);
        line.push_str(&format!(" ({minutes})"));
    }
    if !service.description.is_empty() {
        line.push_str(" – ");
        line.push_str(&service.description);
    }
    line
}

/// "Monday at 09:00", in the tenant's language and time zone.
fn next_opening(t: &Texts, opening: DateTime<Tz>) -> String {
    let day = t.weekdays[opening.weekday().num_days_from_monday() as usize];
    let time = opening.format("%H:%M").to_string();
    fill(t.next_opening, &[("day", day), ("time", &time)])
}

fn welcome(fill: &Filler) -> String {
    if let Some(own) = fill.owned(AnswerKey::Welcome) {
        return own;
    }
    let ctx = fill.ctx;
    let custom = ctx.welcome_message.trim();
    if custom.is_empty() {
        ctx.language.default_welcome_message(ctx.business_name)
    } else {
        custom.to_owned()
    }
}

/// The answer of `rule` (a greeting's is the welcome).
fn answer(fill: &Filler, rule: Rule, words: &[&str], open: bool) -> String {
    let ctx = fill.ctx;
    let t = fill.t;
    let template = t.template(ctx.template);
    let intent = match rule {
        Rule::Faq(entry) => {
            return ctx
                .knowledge
                .doc()
                .faq
                .get(entry)
                .map(|faq| fill.text(&faq.answer))
                .unwrap_or_default();
        }
        // `compose` is handed the AI's text; never asked to write it.
        Rule::HelpMenu | Rule::Ai => {
            return fill
                .owned(AnswerKey::Help)
                .unwrap_or_else(|| help_menu(fill));
        }
        Rule::Intent(intent) => intent,
    };
    match intent {
        Intent::Greeting => welcome(fill),
        Intent::OpeningHours => fill
            .owned(AnswerKey::Hours)
            .unwrap_or_else(|| format!("{}\n{}", t.hours_title, opening_hours(ctx.hours, t))),
        Intent::Prices => {
            let named = Filler {
                services: ctx.knowledge.services_named(words),
                ..*fill
            };
            named.owned(AnswerKey::Prices).unwrap_or_else(|| {
                if ctx.knowledge.active_services().next().is_some() {
                    named.text(t.prices_list)
                } else {
                    template.prices.to_owned()
                }
            })
        }
        Intent::Status => fill
            .owned(AnswerKey::Status)
            .unwrap_or_else(|| template.status.to_owned()),
        Intent::Human if open => fill.owned(AnswerKey::Human).unwrap_or_else(|| {
            fill.text(if ctx.people_notified {
                t.human
            } else {
                t.human_unnotified
            })
        }),
        Intent::Human => fill.owned(AnswerKey::HumanClosed).unwrap_or_else(|| {
            if fill.next_opening.is_some() {
                fill.text(t.human_closed)
            } else {
                format!("{} {}", t.closed, t.human_when_open)
            }
        }),
        Intent::Location => fill
            .owned(AnswerKey::Location)
            .unwrap_or_else(|| fill.text(t.location)),
        Intent::Unknown => help_menu(fill),
    }
}

/// What one can ask, with a word for each that works.
fn help_menu(fill: &Filler) -> String {
    let ctx = fill.ctx;
    let has_address = !ctx.knowledge.doc().facts.address.is_empty();
    help_lines(fill.t, ctx.template, has_address)
}

fn help_lines(t: &Texts, template: TemplateType, has_address: bool) -> String {
    let template = t.template(template);
    let mut lines = vec![
        t.help_intro.to_owned(),
        format!("• {}", t.help_hours),
        format!("• {}", template.help_prices),
        format!("• {}", template.help_status),
    ];
    if has_address {
        lines.push(format!("• {}", t.help_location));
    }
    lines.push(format!("• {}", t.help_human));
    lines.join("\n")
}

/// One line per weekday, Monday first: "Montag: 09:00–18:00".
fn opening_hours(hours: &BusinessHours, t: &Texts) -> String {
    let mut lines = Vec::with_capacity(7);
    for (day, range) in t.weekdays.iter().zip(hours.days()) {
        let range = range.map_or_else(|| t.closed_day.to_owned(), |r| r.to_string());
        let day = crate::text::capitalize(day);
        lines.push(fill(t.hours_line, &[("day", &day), ("hours", &range)]));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    use std::sync::LazyLock;

    use serde_json::json;

    use super::*;
    use crate::domain::knowledge::KnowledgeInput;
    use Language::{De, En, Es, Fr};

    /// The messages of `super::reply`'s answer (most tests need only them).
    fn reply(ctx: &ReplyContext, text: &str, now: DateTime<Utc>) -> Vec<String> {
        super::reply(ctx, text, now).parts
    }

    fn compiled(value: serde_json::Value) -> CompiledKnowledge {
        let input: KnowledgeInput = serde_json::from_value(value).unwrap();
        CompiledKnowledge::compile(input.parse().unwrap())
    }

    /// An address and nothing else: every built-in intent has an answer.
    static WITH_ADDRESS: LazyLock<CompiledKnowledge> =
        LazyLock::new(|| compiled(json!({"facts": {"address": "Main Street 1"}})));

    const TEMPLATES: [TemplateType; 3] = [
        TemplateType::Booking,
        TemplateType::Ecommerce,
        TemplateType::Support,
    ];

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Monday 2026-03-23 10:00 in Berlin: open with the default hours.
    fn open_now() -> DateTime<Utc> {
        berlin(2026, 3, 23, 10, 0)
    }

    /// Saturday 2026-03-21 10:00 in Berlin: closed with the default hours.
    fn saturday_morning() -> DateTime<Utc> {
        berlin(2026, 3, 21, 10, 0)
    }

    fn ctx<'a>(
        template: TemplateType,
        language: Language,
        welcome: &'a str,
        hours: &'a BusinessHours,
    ) -> ReplyContext<'a> {
        ReplyContext {
            template,
            language,
            business_name: "Salon Luna",
            welcome_message: welcome,
            hours,
            timezone: Berlin,
            max_message_length: 4096,
            first_contact: false,
            people_notified: true,
            knowledge: &WITH_ADDRESS,
            out_of_hours_note_due: true,
        }
    }

    /// A message in `language` that asks `intent`.
    fn ask(language: Language, intent: Intent) -> &'static str {
        match (language, intent) {
            (En, Intent::Greeting) => "Hello!",
            (En, Intent::OpeningHours) => "When are you open?",
            (En, Intent::Prices) => "How much does it cost?",
            (En, Intent::Status) => "What is the status of my order?",
            (En, Intent::Human) => "Can I talk to a human?",
            (En, Intent::Location) => "Where are you?",
            (En, Intent::Unknown) => "Do you like cats?",
            (De, Intent::Greeting) => "Hallo!",
            (De, Intent::OpeningHours) => "Wann haben Sie geöffnet?",
            (De, Intent::Prices) => "Was kostet das?",
            (De, Intent::Status) => "Wo ist meine Bestellung?",
            (De, Intent::Human) => "Ich möchte einen Mitarbeiter sprechen",
            (De, Intent::Location) => "Wo sind Sie?",
            (De, Intent::Unknown) => "Mögen Sie Katzen?",
            (Es, Intent::Greeting) => "¡Hola!",
            (Es, Intent::OpeningHours) => "¿Cuál es vuestro horario?",
            (Es, Intent::Prices) => "¿Qué precio tiene?",
            (Es, Intent::Status) => "¿Dónde está mi pedido?",
            (Es, Intent::Human) => "Quiero hablar con una persona",
            (Es, Intent::Location) => "¿Dónde estáis?",
            (Es, Intent::Unknown) => "¿Te gustan los gatos?",
            (Fr, Intent::Greeting) => "Bonjour !",
            (Fr, Intent::OpeningHours) => "Quels sont vos horaires ?",
            (Fr, Intent::Prices) => "Quel est le prix ?",
            (Fr, Intent::Status) => "Où en est ma commande ?",
            (Fr, Intent::Human) => "Je voudrais parler à un conseiller",
            (Fr, Intent::Location) => "Où êtes-vous ?",
            (Fr, Intent::Unknown) => "Vous aimez les chats ?",
        }
    }

    /// Words only one language's texts use: an answer must contain one of its
    /// own language and none of another's (no English fallback).
    fn markers(language: Language) -> &'static [&'static str] {
        match language {
            En => &["we", "you", "your", "our"],
            De => &[
                "sie", "ihre", "ihnen", "ihrem", "ihrer", "wir", "unsere", "unseren",
            ],
            Es => &[
                "tu", "te", "nuestro", "nuestros", "nuestra", "puedes", "estamos",
            ],
            Fr => &["vous", "votre", "nous", "notre", "voici"],
        }
    }

    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    fn assert_in_language(text: &str, language: Language, what: &str) {
        let words = words(text);
        let has = |lang: Language| markers(lang).iter().any(|m| words.iter().any(|w| w == m));
        assert!(has(language), "{what}: no {language:?} word in {text:?}");
        for other in Language::ALL.into_iter().filter(|l| *l != language) {
            assert!(!has(other), "{what}: {other:?} words in {text:?}");
        }
    }

    #[test]
    fn the_test_messages_ask_what_they_claim() {
        for lang in Language::ALL {
            for intent in Intent::ALL {
                assert_eq!(detect_intent(ask(lang, intent), lang), intent, "{lang:?}");
            }
        }
    }

    #[test]
    fn every_template_language_and_intent_answers_in_that_language() {
        let hours = BusinessHours::default();
        for template in TEMPLATES {
            for lang in Language::ALL {
                let welcome = lang.default_welcome_message("Salon Luna");
                let c = ctx(template, lang, &welcome, &hours);
                let mut seen = Vec::new();
                for intent in Intent::ALL {
                    let what = format!("{template:?} {lang:?} {intent:?}");
                    let parts = reply(&c, ask(lang, intent), open_now());
                    assert_eq!(parts.len(), 1, "{what}: {parts:?}");
                    let text = &parts[0];
                    assert!(!text.trim().is_empty(), "{what}");
                    assert_in_language(text, lang, &what);
                    assert!(!seen.contains(text), "{what} repeats another intent");
                    seen.push(text.clone());
                }
            }
        }
    }

    #[test]
    fn answers_carry_what_each_intent_needs() {
        let hours = BusinessHours::default();
        // (template, language, intent, words the answer must contain)
        let cases: &[(TemplateType, Language, Intent, &[&str])] = &[
            (TemplateType::Booking, En, Intent::Greeting, &["Welcome"]),
            (TemplateType::Booking, En, Intent::Human, &["Salon Luna"]),
            (TemplateType::Support, De, Intent::Human, &["Salon Luna"]),
            (TemplateType::Ecommerce, Es, Intent::Human, &["Salon Luna"]),
            (TemplateType::Booking, Fr, Intent::Human, &["Salon Luna"]),
            (TemplateType::Booking, En, Intent::Prices, &["service"]),
            (TemplateType::Ecommerce, En, Intent::Prices, &["catalogue"]),
            (TemplateType::Support, En, Intent::Prices, &["plan"]),
            (TemplateType::Booking, De, Intent::Prices, &["Leistung"]),
            (TemplateType::Ecommerce, De, Intent::Prices, &["Katalog"]),
            (TemplateType::Support, De, Intent::Prices, &["Tarif"]),
            (TemplateType::Booking, Es, Intent::Prices, &["servicio"]),
            (TemplateType::Ecommerce, Es, Intent::Prices, &["catálogo"]),
            (TemplateType::Support, Es, Intent::Prices, &["planes"]),
            (TemplateType::Booking, Fr, Intent::Prices, &["prestation"]),
            (TemplateType::Ecommerce, Fr, Intent::Prices, &["catalogue"]),
            (TemplateType::Support, Fr, Intent::Prices, &["formule"]),
            (TemplateType::Booking, En, Intent::Status, &["appointment"]),
            (
                TemplateType::Ecommerce,
                En,
                Intent::Status,
                &["order number"],
            ),
            (
                TemplateType::Support,
                En,
                Intent::Status,
                &["ticket number"],
            ),
            (TemplateType::Booking, De, Intent::Status, &["Termin"]),
            (
                TemplateType::Ecommerce,
                De,
                Intent::Status,
                &["Bestellnummer"],
            ),
            (TemplateType::Support, De, Intent::Status, &["Ticketnummer"]),
            (TemplateType::Booking, Es, Intent::Status, &["cita"]),
            (
                TemplateType::Ecommerce,
                Es,
                Intent::Status,
                &["número de pedido"],
            ),
            (
                TemplateType::Support,
                Es,
                Intent::Status,
                &["número de ticket"],
            ),
            (TemplateType::Booking, Fr, Intent::Status, &["rendez-vous"]),
            (
                TemplateType::Ecommerce,
                Fr,
                Intent::Status,
                &["numéro de commande"],
            ),
            (
                TemplateType::Support,
                Fr,
                Intent::Status,
                &["numéro de ticket"],
            ),
            (
                TemplateType::Booking,
                En,
                Intent::OpeningHours,
                &["Monday: 09:00–18:00", "Saturday: closed", "Sunday: closed"],
            ),
            (
                TemplateType::Booking,
                De,
                Intent::OpeningHours,
                &["Montag: 09:00–18:00", "Samstag: geschlossen"],
            ),
            (
                TemplateType::Booking,
                Es,
                Intent::OpeningHours,
                &["Lunes: 09:00–18:00", "Sábado: cerrado"],
            ),
            (
                TemplateType::Booking,
                Fr,
                Intent::OpeningHours,
                &["Lundi : 09:00–18:00", "Samedi : fermé"],
            ),
        ];
        for (template, lang, intent, want) in cases {
            let welcome = lang.default_welcome_message("Salon Luna");
            let c = ctx(*template, *lang, &welcome, &hours);
            let text = reply(&c, ask(*lang, *intent), open_now()).join("\n");
            for w in *want {
                assert!(
                    text.contains(w),
                    "{template:?} {lang:?} {intent:?}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn opening_hours_list_every_day_on_its_own_line() {
        let hours = BusinessHours::default();
        for lang in Language::ALL {
            let c = ctx(TemplateType::Booking, lang, "", &hours);
            let text = reply(&c, ask(lang, Intent::OpeningHours), open_now()).join("\n");
            assert_eq!(text.lines().count(), 8, "{lang:?}: title + 7 days: {text}");
            assert_eq!(text.matches("09:00–18:00").count(), 5, "{lang:?}");
            assert_eq!(text.matches(texts(lang).closed_day).count(), 2, "{lang:?}");
        }
    }

    #[test]
    fn the_help_menu_suggests_words_that_work() {
        let hours = BusinessHours::default();
        let quote = |c: char| matches!(c, '"' | '„' | '“' | '«' | '»');
        for template in TEMPLATES {
            for lang in Language::ALL {
                let c = ctx(template, lang, "", &hours);
                let menu = reply(&c, ask(lang, Intent::Unknown), open_now()).join("\n");
                let suggested: Vec<&str> = menu
                    .split(quote)
                    .skip(1)
                    .step_by(2)
                    .map(str::trim)
                    .collect();
                let got: Vec<Intent> = suggested.iter().map(|w| detect_intent(w, lang)).collect();
                let want = [
                    Intent::OpeningHours,
                    Intent::Prices,
                    Intent::Status,
                    Intent::Location,
                    Intent::Human,
                ];
                assert_eq!(got, want, "{template:?} {lang:?}: {suggested:?} in {menu}");
            }
        }
    }

    #[test]
    fn out_of_hours_the_bot_answers_and_only_its_promise_about_people_changes() {
        let hours = BusinessHours::default();
        let cases = [
            (En, "Monday at 09:00"),
            (De, "Montag um 09:00 Uhr"),
            (Es, "lunes a las 09:00"),
            (Fr, "lundi à 09:00"),
        ];
        for template in TEMPLATES {
            for (lang, want) in cases {
                let c = ctx(template, lang, "", &hours);
                let quiet = ReplyContext {
                    out_of_hours_note_due: false,
                    ..c
                };
                for intent in Intent::ALL {
                    let what = format!("{template:?} {lang:?} {intent:?}");
                    let open = super::reply(&c, ask(lang, intent), open_now());
                    let closed = super::reply(&c, ask(lang, intent), saturday_morning());
                    assert_eq!(closed.rule, open.rule, "{what}");
                    assert!(!open.out_of_hours_note, "{what}");
                    for part in &closed.parts {
                        assert_in_language(part, lang, &what);
                    }
                    if intent == Intent::Human {
                        // The promise names the next opening; no note repeats it.
                        assert_eq!(closed.parts.len(), 1, "{what}: {closed:?}");
                        assert!(closed.parts[0].contains(want), "{what}: {closed:?}");
                        assert!(!closed.out_of_hours_note, "{what}");
                        assert_ne!(closed.parts, open.parts, "{what}");
                    } else {
                        // The note, then the very answer given while open.
                        assert!(closed.out_of_hours_note, "{what}");
                        assert!(closed.parts[0].contains(want), "{what}: {closed:?}");
                        assert_eq!(closed.parts[1..], open.parts[..], "{what}");
                        // Once noted in this chat, the answer alone.
                        let later = super::reply(&quiet, ask(lang, intent), saturday_morning());
                        assert_eq!(later.parts, open.parts, "{what}");
                        assert!(!later.out_of_hours_note, "{what}");
                    }
                }
                // First contact out of hours: the note, then the welcome.
                let first = ReplyContext {
                    first_contact: true,
                    ..c
                };
                let parts = reply(&first, "hi", saturday_morning());
                assert_eq!(parts.len(), 2, "{parts:?}");
                assert!(parts[0].contains(want), "{parts:?}");
                assert_eq!(parts[1], lang.default_welcome_message("Salon Luna"));
            }
        }
    }

    #[test]
    fn inside_hours_the_answer_is_not_the_out_of_hours_text() {
        let hours = BusinessHours::default();
        for lang in Language::ALL {
            let t = texts(lang);
            let closed_start: String = t.closed_until.chars().take(20).collect();
            let c = ctx(TemplateType::Booking, lang, "", &hours);
            for intent in Intent::ALL {
                let text = reply(&c, ask(lang, intent), open_now()).join("\n");
                assert!(!text.contains(&closed_start), "{lang:?} {intent:?}: {text}");
                assert!(!text.contains(t.closed), "{lang:?} {intent:?}: {text}");
                assert!(!text.contains(t.human_when_open), "{lang:?} {intent:?}");
            }
        }
    }

    #[test]
    fn the_hours_are_read_in_the_tenant_time_zone() {
        let hours = BusinessHours::default();
        // 08:30 UTC on a Monday in March: 09:30 in Berlin (open),
        // 04:30 in New York (closed).
        let now = Utc
            .with_ymd_and_hms(2026, 3, 23, 8, 30, 0)
            .single()
            .unwrap();
        let berlin_ctx = ctx(TemplateType::Booking, En, "", &hours);
        let new_york = ReplyContext {
            timezone: chrono_tz::America::New_York,
            ..berlin_ctx
        };
        let open = reply(&berlin_ctx, "prices?", now).join("\n");
        let closed = reply(&new_york, "prices?", now).join("\n");
        assert!(open.contains("service"), "{open}");
        assert!(closed.contains("Monday at 09:00"), "{closed}");
    }

    #[test]
    fn a_sunday_across_the_spring_dst_switch_names_monday_nine_local() {
        let hours = BusinessHours::default();
        // 2026-03-29: Berlin goes from CET to CEST at 02:00. Before the
        // switch (01:30 CET), during the day (12:00 CEST) and late (23:59):
        // the next opening is Monday 09:00 CEST = 07:00 UTC.
        let sunday = [
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0)
                .single()
                .unwrap(),
            berlin(2026, 3, 29, 12, 0),
            berlin(2026, 3, 29, 23, 59),
        ];
        let monday = Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).single().unwrap();
        assert_eq!(
            hours.next_opening(sunday[0].with_timezone(&Berlin)),
            Some(monday.with_timezone(&Berlin))
        );
        let want = [
            (En, "Monday at 09:00"),
            (De, "Montag um 09:00 Uhr"),
            (Es, "lunes a las 09:00"),
            (Fr, "lundi à 09:00"),
        ];
        for now in sunday {
            for (lang, want) in want {
                let c = ctx(TemplateType::Support, lang, "", &hours);
                let text = reply(&c, "hello", now).join("\n");
                assert!(text.contains(want), "{now} {lang:?}: {text}");
            }
        }
        // And once Monday 09:00 CEST is here, the bot answers normally.
        let c = ctx(TemplateType::Support, En, "", &hours);
        assert!(!reply(&c, "hello", monday)[0].contains("closed"));
    }

    #[test]
    fn never_open_says_closed_without_a_time() {
        let hours = BusinessHours::always_closed();
        let want = [
            (En, "We are currently closed."),
            (De, "Wir haben derzeit geschlossen."),
            (Es, "En este momento estamos cerrados."),
            (Fr, "Nous sommes actuellement fermés."),
        ];
        for (lang, want) in want {
            let c = ctx(TemplateType::Ecommerce, lang, "", &hours);
            let text = reply(&c, ask(lang, Intent::Human), open_now()).join("\n");
            assert!(text.contains(want), "{lang:?}: {text}");
            assert!(text.contains(texts(lang).human_when_open), "{lang:?}");
            assert!(!text.contains(':'), "{lang:?} names a time: {text}");
        }
    }

    #[test]
    fn first_contact_and_greetings_get_the_welcome_message() {
        let hours = BusinessHours::default();
        let welcome = "Welcome to Salon Luna! Ask me anything.";
        let c = ctx(TemplateType::Booking, En, welcome, &hours);
        let first = ReplyContext {
            first_contact: true,
            people_notified: true,
            ..c
        };
        let prices = texts(En).booking.prices;
        let cases: &[(&ReplyContext, &str, &[&str])] = &[
            (&c, "hello", &[welcome]),
            (&c, "Hi, good morning", &[welcome]),
            (&first, "hello", &[welcome]),
            // The welcome lists what one can ask: no help menu after it.
            (&first, "do you like cats?", &[welcome]),
            // A real question on first contact is answered after the welcome.
            (&first, "how much is it?", &[welcome, prices]),
            (&c, "how much is it?", &[prices]),
        ];
        for (c, text, want) in cases {
            assert_eq!(reply(c, text, open_now()), *want, "{text:?}");
        }
    }

    #[test]
    fn a_blank_welcome_message_falls_back_to_the_default_one() {
        let hours = BusinessHours::default();
        for lang in Language::ALL {
            let c = ctx(TemplateType::Booking, lang, "  \n ", &hours);
            let got = reply(&c, "hola", open_now());
            assert_eq!(
                got,
                [lang.default_welcome_message("Salon Luna")],
                "{lang:?}"
            );
        }
    }

    #[test]
    fn without_a_business_name_the_handover_names_the_team() {
        let hours = BusinessHours::default();
        let cases = [
            (En, "A person from our team will"),
            (De, "Eine Person von unserem Team meldet"),
            (Es, "Una persona de nuestro equipo te"),
            (Fr, "Une personne de chez nous vous"),
        ];
        for (lang, want) in cases {
            let c = ReplyContext {
                business_name: " ",
                ..ctx(TemplateType::Support, lang, "", &hours)
            };
            let text = reply(&c, ask(lang, Intent::Human), open_now()).join("\n");
            assert!(text.contains(want), "{lang:?}: {text}");
        }
    }

    #[test]
    fn long_answers_are_split_to_the_tenant_maximum() {
        let hours = BusinessHours::default();
        for lang in Language::ALL {
            for max in [1, 7, 40, 80] {
                let c = ReplyContext {
                    max_message_length: max,
                    first_contact: true,
                    people_notified: true,
                    ..ctx(TemplateType::Booking, lang, "", &hours)
                };
                for intent in Intent::ALL {
                    let parts = reply(&c, ask(lang, intent), open_now());
                    assert!(parts.len() > 1, "{lang:?} {intent:?} at {max}");
                    for part in &parts {
                        assert!(!part.is_empty());
                        assert!(part.chars().count() <= max, "{part:?} over {max}");
                    }
                }
            }
        }
        // The hours answer splits at its line breaks when one line is all that fits.
        let c = ReplyContext {
            max_message_length: 25,
            ..ctx(TemplateType::Booking, En, "", &hours)
        };
        let parts = reply(&c, "hours", open_now());
        assert_eq!(parts[0], "Our opening hours:");
        assert_eq!(parts[1], "Monday: 09:00–18:00");
        assert_eq!(parts.len(), 8);
    }

    #[test]
    fn the_same_input_gives_the_same_answer() {
        let hours = BusinessHours::default();
        let c = ctx(TemplateType::Ecommerce, Fr, "", &hours);
        for now in [open_now(), saturday_morning()] {
            assert_eq!(reply(&c, "commande ?", now), reply(&c, "commande ?", now));
        }
    }

    #[test]
    fn a_quick_answer_is_promised_only_when_the_tenants_people_are_told() {
        let hours = BusinessHours::parse_json(&serde_json::json!({
            "mon": {"open": "00:00", "close": "23:59"}, "tue": {"open": "00:00", "close": "23:59"},
            "wed": {"open": "00:00", "close": "23:59"}, "thu": {"open": "00:00", "close": "23:59"},
            "fri": {"open": "00:00", "close": "23:59"}, "sat": {"open": "00:00", "close": "23:59"},
            "sun": {"open": "00:00", "close": "23:59"}
        }))
        .unwrap();
        let ctx = |people_notified| ReplyContext {
            template: TemplateType::Support,
            language: Language::En,
            business_name: "Salon Luna",
            welcome_message: "",
            hours: &hours,
            timezone: chrono_tz::UTC,
            max_message_length: 4096,
            first_contact: false,
            people_notified,
            knowledge: &WITH_ADDRESS,
            out_of_hours_note_due: true,
        };
        let noon = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let told = reply(&ctx(true), "I want to talk to a human", noon).join(" ");
        assert!(told.contains("as soon as possible"), "{told}");
        let untold = reply(&ctx(false), "I want to talk to a human", noon).join(" ");
        assert!(!untold.contains("as soon as possible"), "{untold}");
        assert!(untold.contains("when they read it"), "{untold}");
    }

    /// A salon that told the bot its address, three services and two FAQ
    /// entries (one with a placeholder of an extra fact).
    static SALON: LazyLock<CompiledKnowledge> = LazyLock::new(|| {
        compiled(json!({
            "facts": {"address": "Hauptstraße 5, Berlin", "maps_url": "https://maps.example/luna",
                      "phone": "+49 30 123456", "extra": {"parking": "in the yard behind the salon"}},
            "services": [
                {"name": "Haircut", "price": "25", "currency": "EUR", "duration_minutes": 30},
                {"name": "Colouring", "price": "49.90", "currency": "EUR", "description": "incl. wash"},
                {"name": "Beard trim", "price": 12, "currency": "EUR"},
                {"name": "Perm", "price": 80, "currency": "EUR", "active": false}
            ],
            "faq": [
                {"question": "Parking?", "triggers": ["parking", "parken", "park*"], "answer": "You can park {parking}."},
                {"question": "Vouchers?", "triggers": ["gift card", "voucher*", "Gutschein"], "answer": "Yes, vouchers from 20 EUR. Call {phone}."}
            ],
            "answers": {"welcome": {"de": "Hallo bei {business}!"}}
        }))
    });

    fn salon(language: Language) -> ReplyContext<'static> {
        static HOURS: LazyLock<BusinessHours> = LazyLock::new(BusinessHours::default);
        ReplyContext {
            knowledge: &SALON,
            ..ctx(TemplateType::Booking, language, "", &HOURS)
        }
    }

    /// Monday 2026-03-23 23:00 in Berlin: closed, opens Tuesday 09:00.
    fn monday_night() -> DateTime<Utc> {
        berlin(2026, 3, 23, 23, 0)
    }

    #[test]
    fn what_the_tenant_told_the_bot_answers_day_and_night() {
        // (message, rule, what the answer holds, what it must not hold)
        let cases: &[(&str, Rule, &[&str], &[&str])] = &[
            (
                "How much is a haircut?",
                Rule::Intent(Intent::Prices),
                &["• Haircut: 25.00 EUR (30 min)"],
                &["Colouring", "Beard"],
            ),
            (
                "What do your services cost?",
                Rule::Intent(Intent::Prices),
                &[
                    "Our prices:",
                    "• Haircut: 25.00 EUR (30 min)",
                    "• Colouring: 49.90 EUR – incl. wash",
                    "• Beard trim: 12.00 EUR",
                ],
                &["Perm"],
            ),
            (
                "price for colouring and beard trim?",
                Rule::Intent(Intent::Prices),
                &["Colouring", "Beard trim"],
                &["Haircut"],
            ),
            (
                "Where are you?",
                Rule::Intent(Intent::Location),
                &["Hauptstraße 5, Berlin", "https://maps.example/luna"],
                &[],
            ),
            (
                "Is there PARKING?",
                Rule::Faq(0),
                &["You can park in the yard behind the salon."],
                &[],
            ),
            (
                "Do you sell gift cards?",
                Rule::Faq(1),
                &["vouchers from 20 EUR. Call +49 30 123456."],
                &[],
            ),
            // An FAQ entry wins over the built-in intent ("price" is Prices).
            (
                "what is the price of a voucher",
                Rule::Faq(1),
                &["vouchers"],
                &["Our prices"],
            ),
            (
                "When are you open?",
                Rule::Intent(Intent::OpeningHours),
                &["Monday: 09:00–18:00"],
                &[],
            ),
            (
                "Do you like cats?",
                Rule::HelpMenu,
                &["where to find us (write \"address\")"],
                &[],
            ),
        ];
        let c = salon(En);
        for (text, rule, has, has_not) in cases {
            for (when, now) in [("noon", open_now()), ("23:00", monday_night())] {
                let got = super::reply(&c, text, now);
                assert_eq!(got.rule, *rule, "{text:?} at {when}");
                assert_eq!(got.fell_through(), *rule == Rule::HelpMenu, "{text:?}");
                let joined = got.parts.join("\n");
                for want in *has {
                    assert!(joined.contains(want), "{text:?} at {when}: {joined}");
                }
                for not in *has_not {
                    assert!(!joined.contains(not), "{text:?} at {when}: {joined}");
                }
                let noted = joined.contains("open again on Tuesday at 09:00");
                assert_eq!(noted, when == "23:00", "{text:?} at {when}: {joined}");
            }
        }
    }

    #[test]
    fn the_catalogue_of_a_shop_lists_its_products_in_the_tenants_language() {
        let shop = compiled(json!({"services": [
            {"name": "Tasse", "price": "9.5", "currency": "eur"},
            {"name": "Teekanne", "price": 35, "currency": "EUR"}
        ]}));
        let hours = BusinessHours::default();
        let c = ReplyContext {
            knowledge: &shop,
            ..ctx(TemplateType::Ecommerce, De, "", &hours)
        };
        let all = reply(&c, "Haben Sie einen Katalog?", open_now()).join("\n");
        assert_eq!(
            all,
            "Unsere Preise:\n• Tasse: 9,50 EUR\n• Teekanne: 35,00 EUR"
        );
        let one = reply(&c, "Was kostet die Teekanne?", open_now()).join("\n");
        assert_eq!(one, "Unsere Preise:\n• Teekanne: 35,00 EUR");
    }

    #[test]
    fn the_owners_wording_replaces_the_default_and_fills_placeholders() {
        let own = compiled(json!({
            "facts": {"address": "Main Street 1", "booking_url": "https://book.example"},
            "answers": {
                "hours": {"en": "We are open:\n{hours}\nBook at {booking_link}"},
                "human_closed": {"en": "{business} is closed; back {next_opening}."},
                "out_of_hours": {"en": ""},
                "help": {"en": "Ask about hours or prices."}
            }
        }));
        let hours = BusinessHours::default();
        let c = ReplyContext {
            knowledge: &own,
            ..ctx(TemplateType::Booking, En, "", &hours)
        };
        let text = reply(&c, "hours?", open_now()).join("\n");
        assert!(
            text.starts_with("We are open:\nMonday: 09:00–18:00"),
            "{text}"
        );
        assert!(text.ends_with("Book at https://book.example"), "{text}");
        // A blank out-of-hours note is no note.
        let night = super::reply(&c, "hours?", monday_night());
        assert!(!night.out_of_hours_note);
        assert_eq!(night.parts.join("\n"), text);
        assert_eq!(
            reply(&c, "I want a human", monday_night()),
            ["Salon Luna is closed; back Tuesday at 09:00."]
        );
        assert_eq!(
            reply(&c, "what?", open_now()),
            ["Ask about hours or prices."]
        );
        // German has no own text: its default stays.
        let de = ReplyContext { language: De, ..c };
        assert!(reply(&de, "Öffnungszeiten", open_now())[0].starts_with("Unsere Öffnungszeiten:"));
    }

    #[test]
    fn a_location_question_without_an_address_falls_through() {
        let hours = BusinessHours::default();
        let empty = CompiledKnowledge::default();
        let c = ReplyContext {
            knowledge: &empty,
            ..ctx(TemplateType::Booking, En, "", &hours)
        };
        let got = super::reply(&c, "where are you?", open_now());
        assert!(got.fell_through());
        assert!(!got.parts.join(" ").contains("address"), "{got:?}");
        assert!(falls_through(&empty, En, "where are you"));
        assert!(!falls_through(&SALON, En, "where are you"));
        assert!(!falls_through(&SALON, En, "is there parking"));
        assert!(falls_through(&SALON, En, "do you like cats"));
    }

    #[test]
    fn first_contact_with_a_question_nothing_covers_gets_the_welcome_and_counts_as_unanswered() {
        let first = ReplyContext {
            first_contact: true,
            ..salon(De)
        };
        let got = super::reply(&first, "Haben Sie Katzen?", open_now());
        assert_eq!(got.parts, ["Hallo bei Salon Luna!"]);
        assert!(got.fell_through());
        let faq = super::reply(&first, "Kann ich parken?", open_now());
        assert_eq!(faq.rule, Rule::Faq(0));
        assert_eq!(faq.parts.len(), 2, "welcome, then the answer: {faq:?}");
    }

    #[test]
    fn the_knowledge_sheet_holds_every_fact_price_and_enabled_faq_answer() {
        let sheet = knowledge_sheet(&salon(En), monday_night());
        for expected in [
            "Business: Salon Luna",
            "Address: Hauptstraße 5, Berlin",
            "Phone: +49 30 123456",
            "parking: in the yard behind the salon",
            "Monday: 09:00–18:00",
            "Closed now; opens Tuesday at 09:00.",
            "• Haircut: 25.00 EUR (30 min)",
            "• Colouring: 49.90 EUR – incl. wash",
            "A: You can park in the yard behind the salon.",
            "A: Yes, vouchers from 20 EUR. Call +49 30 123456.",
        ] {
            assert!(
                sheet.contains(expected),
                "{expected:?} missing in:\n{sheet}"
            );
        }
        assert!(
            !sheet.contains("Perm"),
            "inactive services stay out:\n{sheet}"
        );
        assert!(knowledge_sheet(&salon(En), open_now()).contains("Open now."));
    }

    #[test]
    fn an_ai_answer_is_framed_like_any_other_and_a_handoff_is_the_handoff_answer() {
        let first = ReplyContext {
            first_contact: true,
            ..salon(De)
        };
        let got = reply_with(&first, " Wir haben keine Katzen. ", open_now());
        assert_eq!(got.rule, Rule::Ai);
        assert!(!got.fell_through());
        assert_eq!(
            got.parts,
            ["Hallo bei Salon Luna!", "Wir haben keine Katzen."]
        );
        let night = reply_with(&salon(En), "We have no cats.", monday_night());
        assert!(night.out_of_hours_note, "{night:?}");
        assert_eq!(night.parts.last().unwrap(), "We have no cats.");

        let handoff = reply_by(&salon(En), Rule::Intent(Intent::Human), open_now());
        let asked = super::reply(&salon(En), "Can I talk to a human?", open_now());
        assert_eq!(handoff.parts, asked.parts);
    }

    #[test]
    fn the_text_only_notice_is_the_owners_wording_when_they_wrote_one() {
        let default = text_only_notice(&salon(En), open_now());
        assert_eq!(default, crate::domain::media::text_only_notice(En));
        let own =
            compiled(json!({"answers": {"text_only": {"en": "{business} reads text only."}}}));
        let c = ReplyContext {
            knowledge: &own,
            ..salon(En)
        };
        assert_eq!(
            text_only_notice(&c, open_now()),
            "Salon Luna reads text only."
        );
    }
}
