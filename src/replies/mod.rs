//! The template reply engine: what the bot answers.
//!
//! Owns: deciding the answer text from the tenant's template (BOOKING,
//! ECOMMERCE, SUPPORT), language, business hours and welcome message and the
//! customer's message: intent detection (`intent`), the localised sentences
//! (`texts`) and cutting answers to the tenant's maximum message length
//! (`split`). Everything here is a pure function; the time is an argument.
//!
//! Must not: do I/O, read the clock, send, log, sleep or simulate typing. The
//! bot actor asks `reply` what to say and then owns the how and when (typing
//! delay, rate limits, sending, logging).

mod intent;
mod split;
mod texts;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use entity::enums::TemplateType;

use crate::domain::hours::BusinessHours;
use crate::domain::language::Language;

pub use intent::{Intent, detect_intent};
pub use split::split_message;

use texts::{Texts, fill, texts};

/// What the engine knows about a tenant when it answers one message.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    pub template: TemplateType,
    pub language: Language,
    pub business_name: &'a str,
    /// Sent on first contact and to greetings. Blank means the language's
    /// default welcome (`Language::default_welcome_message`).
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
}

/// The messages to send, in order, in answer to `text` arriving at `now`.
///
/// - Outside business hours (in the tenant's time zone): one out-of-hours
///   answer naming the next opening (weekday and HH:MM, local time), plus,
///   when the customer asked for a person, that a person answers once open.
/// - First contact or a greeting: the welcome message. On first contact with
///   a real question, the answer to it follows the welcome.
/// - Otherwise the answer to the intent; a message we do not understand gets
///   the template's help menu.
///
/// Every answer is cut with `split_message` to `max_message_length`. The
/// result is empty only when there is nothing visible to send, which the
/// built-in texts never are.
pub fn reply(ctx: &ReplyContext, text: &str, now: DateTime<Utc>) -> Vec<String> {
    let t = texts(ctx.language);
    let intent = detect_intent(text, ctx.language);
    let local_now = now.with_timezone(&ctx.timezone);

    let answers = if !ctx.hours.is_open_at(local_now) {
        vec![out_of_hours(t, intent, ctx.hours.next_opening(local_now))]
    } else if ctx.first_contact || intent == Intent::Greeting {
        let mut answers = vec![welcome(ctx)];
        // The welcome already lists what one can ask: no help menu after it.
        if !matches!(intent, Intent::Greeting | Intent::Unknown) {
            answers.push(answer(ctx, t, intent));
        }
        answers
    } else {
        vec![answer(ctx, t, intent)]
    };

    answers
        .iter()
        .flat_map(|a| split_message(a, ctx.max_message_length))
        .collect()
}

/// `next_opening` is in the tenant's time zone, so its weekday and HH:MM are
/// what the customer reads on the shop door.
fn out_of_hours(t: &Texts, intent: Intent, next_opening: Option<DateTime<Tz>>) -> String {
    let mut text = match next_opening {
        Some(opening) => {
            let day = t.weekdays[opening.weekday().num_days_from_monday() as usize];
            let time = opening.format("%H:%M").to_string();
            fill(t.closed_until, &[("day", day), ("time", &time)])
        }
        None => t.closed.to_owned(),
    };
    if intent == Intent::Human {
        text.push(' ');
        text.push_str(t.human_when_open);
    }
    text
}

fn welcome(ctx: &ReplyContext) -> String {
    let custom = ctx.welcome_message.trim();
    if custom.is_empty() {
        ctx.language.default_welcome_message(ctx.business_name)
    } else {
        custom.to_owned()
    }
}

/// The answer to `intent` while open. `Greeting` answers with the welcome.
fn answer(ctx: &ReplyContext, t: &Texts, intent: Intent) -> String {
    let template = t.template(ctx.template);
    match intent {
        Intent::Greeting => welcome(ctx),
        Intent::OpeningHours => opening_hours(ctx.hours, t),
        Intent::Prices => template.prices.to_owned(),
        Intent::Status => template.status.to_owned(),
        Intent::Human => {
            let name = ctx.business_name.trim();
            let name = if name.is_empty() { t.our_team } else { name };
            let text = if ctx.people_notified {
                t.human
            } else {
                t.human_unnotified
            };
            fill(text, &[("business", name)])
        }
        Intent::Unknown => [
            t.help_intro,
            t.help_hours,
            template.help_prices,
            template.help_status,
            t.help_human,
        ]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                (*line).to_owned()
            } else {
                format!("• {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n"),
    }
}

/// A title, then one line per weekday, Monday first: "Montag: 09:00–18:00".
fn opening_hours(hours: &BusinessHours, t: &Texts) -> String {
    let mut lines = vec![t.hours_title.to_owned()];
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

    use super::*;
    use Language::{De, En, Es, Fr};

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
            (En, Intent::Unknown) => "Do you like cats?",
            (De, Intent::Greeting) => "Hallo!",
            (De, Intent::OpeningHours) => "Wann haben Sie geöffnet?",
            (De, Intent::Prices) => "Was kostet das?",
            (De, Intent::Status) => "Wo ist meine Bestellung?",
            (De, Intent::Human) => "Ich möchte einen Mitarbeiter sprechen",
            (De, Intent::Unknown) => "Mögen Sie Katzen?",
            (Es, Intent::Greeting) => "¡Hola!",
            (Es, Intent::OpeningHours) => "¿Cuál es vuestro horario?",
            (Es, Intent::Prices) => "¿Qué precio tiene?",
            (Es, Intent::Status) => "¿Dónde está mi pedido?",
            (Es, Intent::Human) => "Quiero hablar con una persona",
            (Es, Intent::Unknown) => "¿Te gustan los gatos?",
            (Fr, Intent::Greeting) => "Bonjour !",
            (Fr, Intent::OpeningHours) => "Quels sont vos horaires ?",
            (Fr, Intent::Prices) => "Quel est le prix ?",
            (Fr, Intent::Status) => "Où en est ma commande ?",
            (Fr, Intent::Human) => "Je voudrais parler à un conseiller",
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
                    Intent::Human,
                ];
                assert_eq!(got, want, "{template:?} {lang:?}: {suggested:?} in {menu}");
            }
        }
    }

    #[test]
    fn out_of_hours_names_the_next_opening_in_the_tenant_language() {
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
                for intent in Intent::ALL {
                    let parts = reply(&c, ask(lang, intent), saturday_morning());
                    assert_eq!(parts.len(), 1, "{lang:?} {intent:?}: {parts:?}");
                    let text = &parts[0];
                    assert!(text.contains(want), "{lang:?} {intent:?}: {text}");
                    assert_in_language(text, lang, &format!("{lang:?} {intent:?}"));
                    let promises_a_person = text.contains(texts(lang).human_when_open);
                    assert_eq!(promises_a_person, intent == Intent::Human, "{text}");
                }
                // First contact out of hours: still only the out-of-hours answer.
                let first = ReplyContext {
                    first_contact: true,
                    people_notified: true,
                    ..c
                };
                let parts = reply(&first, "hi", saturday_morning());
                assert_eq!(parts.len(), 1);
                assert!(parts[0].contains(want), "{parts:?}");
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
}
