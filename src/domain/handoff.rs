//! The human handoff: when a conversation goes to a person (HUMAN) and
//! when it comes back to the bot (BOT), in ONE function, `decide`.
//!
//! Owns: the rules of DESIGN.md "Conversations". A conversation goes to
//! HUMAN when the customer asks for a person, a person replies (inbox,
//! API), the owner writes from the phone itself, the bot failed to answer,
//! or a person presses "Take over"; it returns to BOT on "Hand back" or
//! after the tenant's idle timeout without a person's message. In HUMAN
//! the bot sends nothing in that chat. "Needs a person" is a flag beside
//! the mode: a chat waiting for a person's answer.
//! Must not: touch the database or the clock (the caller passes `now`).

use chrono::{DateTime, Duration, Utc};
use entity::enums::ConversationMode;

/// Twelve hours: a chat a person took over goes back to the bot after
/// this long without a person's message.
pub const DEFAULT_HUMAN_IDLE_MINUTES: i32 = 720;

/// A tenant's `human_idle_timeout_minutes` as a duration: at least a minute.
pub fn idle_timeout(minutes: i32) -> Duration {
    Duration::minutes(i64::from(minutes.max(1)))
}

/// Why a conversation switched mode (stored by name with the switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    CustomerAsked,
    PersonReplied,
    OwnerPhone,
    BotFailed,
    TakenOver,
    HandedBack,
    IdleTimeout,
    NotText,
}

impl Reason {
    pub const ALL: [Self; 8] = [
        Self::CustomerAsked,
        Self::PersonReplied,
        Self::OwnerPhone,
        Self::BotFailed,
        Self::TakenOver,
        Self::HandedBack,
        Self::IdleTimeout,
        Self::NotText,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CustomerAsked => "customer_asked",
            Self::PersonReplied => "person_replied",
            Self::OwnerPhone => "owner_phone",
            Self::BotFailed => "bot_failed",
            Self::TakenOver => "taken_over",
            Self::HandedBack => "handed_back",
            Self::IdleTimeout => "idle_timeout",
            Self::NotText => "not_text",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// An owner's words for it, as the thread shows it.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::CustomerAsked => "the customer asked for a person",
            Self::PersonReplied => "a person replied",
            Self::OwnerPhone => "a person wrote from the phone",
            Self::BotFailed => "the bot could not answer",
            Self::TakenOver => "a person took over",
            Self::HandedBack => "handed back to the bot",
            Self::IdleTimeout => "no person wrote for a while",
            Self::NotText => "the customer sent something other than text",
        }
    }
}

/// A conversation's handoff state, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffState {
    pub mode: ConversationMode,
    pub needs_human: bool,
    /// When the mode last switched.
    pub mode_since: Option<DateTime<Utc>>,
    /// The last message a person sent in the chat.
    pub last_human_at: Option<DateTime<Utc>>,
}

impl Default for HandoffState {
    fn default() -> Self {
        Self {
            mode: ConversationMode::Bot,
            needs_human: false,
            mode_since: None,
            last_human_at: None,
        }
    }
}

/// What happened in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A customer's message: text (asking for a person or not), or
    /// something else (an image, a voice note…).
    Customer {
        asks_for_person: bool,
        text: bool,
    },
    /// A person's reply from the inbox or the API.
    PersonReplied,
    /// The business's own phone wrote in the chat (WhatsApp Web's own
    /// messages, Cloud API echoes).
    OwnerPhone,
    /// The bot could not answer (its reply failed).
    BotFailed,
    TakeOver,
    HandBack,
    /// The clock: the idle sweep looks at a chat nobody wrote in.
    Idle,
}

/// What `decide` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub state: HandoffState,
    /// The switch to record (the new mode is `state.mode`), if any. When
    /// a customer's message both ends an idle HUMAN chat and asks for a
    /// person, only the later switch is recorded.
    pub switched: Option<Reason>,
    /// Whether the bot answers this (customer) event.
    pub bot_answers: bool,
}

/// Applies `event` to `state` at `now`; `idle` is the tenant's
/// human idle timeout.
pub fn decide(state: HandoffState, event: Event, now: DateTime<Utc>, idle: Duration) -> Decision {
    use ConversationMode::{Bot, Human};
    let mut next = state;
    let mut switched = None;
    let mut switch = |next: &mut HandoffState, mode, reason| {
        if next.mode != mode {
            next.mode = mode;
            next.mode_since = Some(now);
            switched = Some(reason);
        }
    };
    // A person's silence since they last wrote (or since the chat went to
    // them) hands it back before anything else.
    let quiet_since = state.last_human_at.max(state.mode_since);
    let idle_over = state.mode == Human && quiet_since.is_some_and(|since| now - since >= idle);
    let bot_answers = match event {
        Event::Customer {
            asks_for_person,
            text,
        } => {
            if idle_over {
                switch(&mut next, Bot, Reason::IdleTimeout);
                next.needs_human = false;
            }
            match (next.mode, asks_for_person, text) {
                // Still with a person: they should answer this one.
                (Human, _, _) => {
                    next.needs_human = true;
                    false
                }
                // The bot answers that a person will (its promise).
                (Bot, true, _) => {
                    switch(&mut next, Human, Reason::CustomerAsked);
                    next.needs_human = true;
                    true
                }
                // The bot says it reads text only; a person looks at it.
                (Bot, false, false) => {
                    next.needs_human = true;
                    true
                }
                (Bot, false, true) => true,
            }
        }
        Event::PersonReplied | Event::OwnerPhone | Event::TakeOver => {
            let reason = match event {
                Event::PersonReplied => Reason::PersonReplied,
                Event::OwnerPhone => Reason::OwnerPhone,
                _ => Reason::TakenOver,
            };
            switch(&mut next, Human, reason);
            next.needs_human = false;
            if event != Event::TakeOver {
                next.last_human_at = Some(now);
            }
            false
        }
        Event::BotFailed => {
            switch(&mut next, Human, Reason::BotFailed);
            next.needs_human = true;
            false
        }
        Event::HandBack => {
            switch(&mut next, Bot, Reason::HandedBack);
            next.needs_human = false;
            false
        }
        Event::Idle => {
            if idle_over {
                switch(&mut next, Bot, Reason::IdleTimeout);
                next.needs_human = false;
            }
            false
        }
    };
    Decision {
        state: next,
        switched,
        bot_answers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationMode::{Bot, Human};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_760_000_000, 0).unwrap_or_default()
            + Duration::minutes(minutes)
    }

    fn state(mode: ConversationMode, needs: bool, since: i64, human: Option<i64>) -> HandoffState {
        HandoffState {
            mode,
            needs_human: needs,
            mode_since: Some(at(since)),
            last_human_at: human.map(at),
        }
    }

    const TEXT: Event = Event::Customer {
        asks_for_person: false,
        text: true,
    };
    const ASKS: Event = Event::Customer {
        asks_for_person: true,
        text: true,
    };
    const MEDIA: Event = Event::Customer {
        asks_for_person: false,
        text: false,
    };

    /// (state before, event, minutes now, mode after, needs a person,
    /// switch recorded, bot answers)
    type Row = (
        HandoffState,
        Event,
        i64,
        ConversationMode,
        bool,
        Option<Reason>,
        bool,
    );

    #[test]
    fn the_handoff_rules_as_a_table() {
        let idle = Duration::minutes(720);
        // (state before, event, minutes now, mode after, needs a person,
        //  switch recorded, bot answers)
        let table: &[Row] = &[
            // With the bot: it answers; asking for a person hands over.
            (state(Bot, false, 0, None), TEXT, 5, Bot, false, None, true),
            (
                state(Bot, false, 0, None),
                ASKS,
                5,
                Human,
                true,
                Some(Reason::CustomerAsked),
                true,
            ),
            (state(Bot, false, 0, None), MEDIA, 5, Bot, true, None, true),
            // A person's message, from the inbox or the phone; take over.
            (
                state(Bot, true, 0, None),
                Event::PersonReplied,
                5,
                Human,
                false,
                Some(Reason::PersonReplied),
                false,
            ),
            (
                state(Bot, false, 0, None),
                Event::OwnerPhone,
                5,
                Human,
                false,
                Some(Reason::OwnerPhone),
                false,
            ),
            (
                state(Bot, true, 0, None),
                Event::TakeOver,
                5,
                Human,
                false,
                Some(Reason::TakenOver),
                false,
            ),
            (
                state(Human, true, 0, None),
                Event::PersonReplied,
                5,
                Human,
                false,
                None,
                false,
            ),
            // The bot failed: a person must look.
            (
                state(Bot, false, 0, None),
                Event::BotFailed,
                5,
                Human,
                true,
                Some(Reason::BotFailed),
                false,
            ),
            // With a person: the bot is silent and the chat waits for them.
            (
                state(Human, false, 0, Some(10)),
                TEXT,
                20,
                Human,
                true,
                None,
                false,
            ),
            (
                state(Human, false, 0, Some(10)),
                ASKS,
                20,
                Human,
                true,
                None,
                false,
            ),
            // …until the idle timeout since the person's last message…
            (
                state(Human, true, 0, Some(10)),
                TEXT,
                10 + 720,
                Bot,
                false,
                Some(Reason::IdleTimeout),
                true,
            ),
            (
                state(Human, true, 0, Some(10)),
                TEXT,
                10 + 719,
                Human,
                true,
                None,
                false,
            ),
            // …or since the switch, when no person wrote at all…
            (
                state(Human, true, 100, None),
                TEXT,
                100 + 720,
                Bot,
                false,
                Some(Reason::IdleTimeout),
                true,
            ),
            // …and asking again after the timeout hands over again.
            (
                state(Human, false, 0, Some(10)),
                ASKS,
                10 + 721,
                Human,
                true,
                Some(Reason::CustomerAsked),
                true,
            ),
            // Hand back.
            (
                state(Human, true, 0, Some(10)),
                Event::HandBack,
                20,
                Bot,
                false,
                Some(Reason::HandedBack),
                false,
            ),
            (
                state(Bot, false, 0, None),
                Event::HandBack,
                20,
                Bot,
                false,
                None,
                false,
            ),
            // The idle sweep: back to the bot once the person's silence
            // reaches the timeout, not a minute before; a chat with the
            // bot stays as it is.
            (
                state(Human, true, 0, Some(10)),
                Event::Idle,
                10 + 720,
                Bot,
                false,
                Some(Reason::IdleTimeout),
                false,
            ),
            (
                state(Human, true, 0, Some(10)),
                Event::Idle,
                10 + 719,
                Human,
                true,
                None,
                false,
            ),
            (
                state(Human, false, 100, None),
                Event::Idle,
                100 + 720,
                Bot,
                false,
                Some(Reason::IdleTimeout),
                false,
            ),
            (
                state(Bot, true, 0, None),
                Event::Idle,
                10_000,
                Bot,
                true,
                None,
                false,
            ),
        ];
        for (i, (before, event, now, mode, needs, switched, answers)) in table.iter().enumerate() {
            let decision = decide(*before, *event, at(*now), idle);
            assert_eq!(
                (
                    decision.state.mode,
                    decision.state.needs_human,
                    decision.switched,
                    decision.bot_answers
                ),
                (*mode, *needs, *switched, *answers),
                "row {i}: {event:?} on {before:?}"
            );
            if decision.switched.is_some() {
                assert_eq!(decision.state.mode_since, Some(at(*now)), "row {i}");
            }
        }
    }

    #[test]
    fn a_person_s_message_restarts_the_idle_clock_and_taking_over_does_not_count_as_one() {
        let before = state(Human, false, 0, Some(10));
        let replied = decide(
            before,
            Event::PersonReplied,
            at(500),
            Duration::minutes(720),
        );
        assert_eq!(replied.state.last_human_at, Some(at(500)));
        let taken = decide(
            state(Bot, false, 0, None),
            Event::TakeOver,
            at(500),
            Duration::minutes(720),
        );
        assert_eq!(taken.state.last_human_at, None);
        assert_eq!(taken.state.mode_since, Some(at(500)));
    }

    #[test]
    fn every_reason_reads_back_from_its_stored_name() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            assert!(reason.as_str().len() <= 32, "fits mode_reason");
        }
        assert_eq!(Reason::parse("nonsense"), None);
    }
}
