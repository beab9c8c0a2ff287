//! What a "needs a person" email says, built from plain data: pure and
//! unit-tested.
//!
//! Owns: the subject, the plain-text body, how a contact, a sender and a
//! message are shown, and the inbox link. Must not: touch the database or
//! the network, or trust customer text in a header (names are cleaned of
//! control characters and cut; lettre encodes the rest).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::MessageKind;

/// The longest contact name shown (WhatsApp push names are the customer's
/// own choice).
const MAX_NAME_CHARS: usize = 60;
/// The longest message shown in full; the thread has the rest.
const MAX_MESSAGE_CHARS: usize = 500;

/// One chat that waits for a person, as the email tells it.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The business, as its people know it.
    pub business: String,
    /// The customer's WhatsApp name, when the transport gave one.
    pub contact_name: Option<String>,
    /// The customer's chat id (a phone number, perhaps with `@server`).
    pub chat_id: String,
    /// Since when the chat needs a person.
    pub since: Option<DateTime<Utc>>,
    /// The last messages, oldest first.
    pub messages: Vec<Line>,
    /// The conversation in the inbox.
    pub link: String,
    /// The tenant's time zone, for the times shown.
    pub timezone: Tz,
    /// `smtp.notify_interval`, said at the end.
    pub interval: Duration,
}

/// One message of the thread.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: DateTime<Utc>,
    pub from: Sender,
    pub kind: MessageKind,
    pub text: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Customer,
    Bot,
    /// A person (inbox, phone, API key), as `message_log.author` names them.
    Person(String),
}

/// The conversation's page in the inbox.
// A typed `PortalUrl` variant belongs in `crate::urls` once the inbox's
// routes land there; until then the path is spelled here, once.
pub fn inbox_link(public_url: &str, conversation_id: i64) -> String {
    format!(
        "{}/portal/inbox/{conversation_id}",
        public_url.trim_end_matches('/')
    )
}

/// `[Flow HQ] Kerry (+4915112345678) is waiting for a person — Salon Berlin`
pub fn subject(waiting: &Waiting) -> String {
    format!(
        "[Flow HQ] {} is waiting for a person — {}",
        contact(waiting),
        one_line(&waiting.business, MAX_NAME_CHARS),
    )
}

/// `[Flow HQ] 80% of this month's messages used — Salon Berlin`
pub fn notice_subject(subject: &str, business: &str) -> String {
    format!(
        "[Flow HQ] {} — {}",
        one_line(subject, 120),
        one_line(business, MAX_NAME_CHARS)
    )
}

/// The plain-text body: who, since when, the last messages, the link.
pub fn body(waiting: &Waiting) -> String {
    let mut body = String::new();
    let who = contact(waiting);
    let business = one_line(&waiting.business, MAX_NAME_CHARS);
    // Writing to a String cannot fail.
    let _ = match waiting.since {
        Some(since) => writeln!(
            body,
            "{who} is waiting for a person at {business} since {}.",
            local(since, waiting.timezone),
        ),
        None => writeln!(body, "{who} is waiting for a person at {business}."),
    };
    if !waiting.messages.is_empty() {
        body.push_str("\nThe last messages:\n\n");
        let customer = waiting
            .contact_name
            .as_deref()
            .map(|name| one_line(name, MAX_NAME_CHARS))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| number(&waiting.chat_id));
        for line in &waiting.messages {
            let from = match &line.from {
                Sender::Customer => customer.clone(),
                Sender::Bot => "Bot".to_owned(),
                Sender::Person(name) => one_line(name, MAX_NAME_CHARS),
            };
            let _ = writeln!(
                body,
                "[{}] {from}: {}",
                local(line.at, waiting.timezone),
                indented(&message_text(line)),
            );
        }
    }
    let _ = writeln!(
        body,
        "\nAnswer in the inbox:\n{}\n\n\
         You get at most one email per chat every {}.\n\
         -- \nFlow HQ",
        waiting.link,
        every(waiting.interval),
    );
    body
}

/// `Kerry (+4915112345678)`, or the number alone when there is no name.
fn contact(waiting: &Waiting) -> String {
    let number = number(&waiting.chat_id);
    match waiting
        .contact_name
        .as_deref()
        .map(|name| one_line(name, MAX_NAME_CHARS))
        .filter(|name| !name.is_empty())
    {
        Some(name) => format!("{name} ({number})"),
        None => number,
    }
}

/// The phone number of a chat id: `4915112345678@s.whatsapp.net` and
/// `+4915112345678` both show as `+4915112345678`; anything else as it is.
fn number(chat_id: &str) -> String {
    let user = chat_id.split('@').next().unwrap_or(chat_id).trim();
    if !user.is_empty() && user.chars().all(|c| c.is_ascii_digit()) {
        format!("+{user}")
    } else {
        one_line(user, MAX_NAME_CHARS)
    }
}

/// The text of a message, or what else it was (`[Photo] caption`), cut.
fn message_text(line: &Line) -> String {
    cut(
        &crate::domain::media::summary(line.kind, &line.text),
        MAX_MESSAGE_CHARS,
    )
}

/// A message's later lines indented under its first, so each message
/// stays one block.
fn indented(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("\n    ")
}

/// Text fit for one line of a header: control characters (newlines
/// included) become spaces, runs of spaces one, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(
        &spaced.split_whitespace().collect::<Vec<_>>().join(" "),
        max,
    )
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn local(at: DateTime<Utc>, timezone: Tz) -> String {
    at.with_timezone(&timezone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `15 minutes`, `1 hour`, `90 seconds`.
fn every(interval: Duration) -> String {
    let seconds = interval.as_secs();
    let (n, unit) = if seconds >= 3600 && seconds.is_multiple_of(3600) {
        (seconds / 3600, "hour")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, hour, minute, 0).unwrap()
    }

    fn line(minute: u32, from: Sender, text: &str) -> Line {
        Line {
            at: at(13, minute),
            from,
            kind: MessageKind::Text,
            text: text.to_owned(),
        }
    }

    fn waiting() -> Waiting {
        Waiting {
            business: "Salon Berlin".to_owned(),
            contact_name: Some("Kerry".to_owned()),
            chat_id: "4915112345678@s.whatsapp.net".to_owned(),
            since: Some(at(13, 2)),
            messages: vec![
                line(0, Sender::Customer, "Do you have time on Friday?"),
                line(1, Sender::Bot, "We are open 9-18."),
                line(2, Sender::Customer, "I want to talk to a human"),
            ],
            link: inbox_link("https://flowhq.example.com/", 42),
            timezone: chrono_tz::Europe::Berlin,
            interval: Duration::from_secs(15 * 60),
        }
    }

    #[test]
    fn the_subject_names_the_contact_their_number_and_the_business() {
        assert_eq!(
            subject(&waiting()),
            "[Flow HQ] Kerry (+4915112345678) is waiting for a person — Salon Berlin"
        );
    }

    #[test]
    fn without_a_name_the_subject_names_the_number() {
        let mut waiting = waiting();
        waiting.contact_name = None;
        waiting.chat_id = "+4915100000001".to_owned();
        assert_eq!(
            subject(&waiting),
            "[Flow HQ] +4915100000001 is waiting for a person — Salon Berlin"
        );
        waiting.contact_name = Some(" \n ".to_owned());
        assert!(subject(&waiting).starts_with("[Flow HQ] +4915100000001 is"));
    }

    #[test]
    fn a_name_cannot_break_the_subject_line_or_make_it_endless() {
        let mut waiting = waiting();
        waiting.contact_name = Some(format!("Eve\r\nBcc: all@example.com{}", "x".repeat(200)));
        let subject = subject(&waiting);
        assert!(!subject.chars().any(char::is_control), "{subject:?}");
        assert!(subject.contains("Eve Bcc: all@example.com"), "{subject}");
        assert!(subject.chars().count() < 150, "{subject}");
    }

    #[test]
    fn the_body_lists_the_last_messages_oldest_first_with_who_wrote_them() {
        let mut waiting = waiting();
        waiting.messages.push(line(
            3,
            Sender::Person("Anna".to_owned()),
            "Hi Kerry, Anna here.",
        ));
        let body = body(&waiting);
        let expected = [
            "[2026-12-05 14:00 CET] Kerry: Do you have time on Friday?",
            "[2026-12-05 14:01 CET] Bot: We are open 9-18.",
            "[2026-12-05 14:02 CET] Kerry: I want to talk to a human",
            "[2026-12-05 14:03 CET] Anna: Hi Kerry, Anna here.",
        ];
        assert!(
            body.contains(&expected.join("\n")),
            "the lines, one after the other, in:\n{body}"
        );
        assert!(
            body.starts_with(
                "Kerry (+4915112345678) is waiting for a person at Salon Berlin since \
                 2026-12-05 14:02 CET."
            ),
            "{body}"
        );
    }

    #[test]
    fn the_body_links_to_the_conversation_in_the_inbox_and_says_how_often_mail_comes() {
        let body = body(&waiting());
        assert!(
            body.contains("\nhttps://flowhq.example.com/portal/inbox/42\n"),
            "{body}"
        );
        assert!(
            body.contains("at most one email per chat every 15 minutes"),
            "{body}"
        );
    }

    #[test]
    fn other_kinds_of_message_say_what_they_were_and_long_ones_are_cut() {
        let mut waiting = waiting();
        waiting.messages = vec![
            Line {
                kind: MessageKind::Image,
                ..line(0, Sender::Customer, "my nails")
            },
            Line {
                kind: MessageKind::Audio,
                ..line(1, Sender::Customer, "")
            },
            line(2, Sender::Customer, &"a".repeat(2000)),
            line(3, Sender::Customer, "first line\nsecond line"),
        ];
        let body = body(&waiting);
        assert!(body.contains("Kerry: [Photo] my nails\n"), "{body}");
        assert!(body.contains("Kerry: [Voice note]\n"), "{body}");
        assert!(
            body.contains(&format!("Kerry: {}…\n", "a".repeat(500))),
            "{body}"
        );
        assert!(!body.contains(&"a".repeat(501)), "{body}");
        assert!(
            body.contains("Kerry: first line\n    second line\n"),
            "{body}"
        );
    }

    #[test]
    fn the_interval_is_said_in_its_largest_whole_unit() {
        for (seconds, said) in [
            (900, "15 minutes"),
            (60, "1 minute"),
            (3600, "1 hour"),
            (7200, "2 hours"),
            (90, "90 seconds"),
            (5400, "90 minutes"),
        ] {
            assert_eq!(every(Duration::from_secs(seconds)), said);
        }
    }
}
