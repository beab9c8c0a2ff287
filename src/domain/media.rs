//! What a customer sent besides text (a photo, a voice note, a location…),
//! in plain words, and what the bot tells them about it.
//!
//! Owns: the one wording of each `MessageKind` the inbox, its previews and
//! the emails show, and the bot's "I read text only" sentence per language.
//! Must not: decide whether the bot answers (that is `domain::handoff`).

use entity::enums::MessageKind;

use super::language::Language;

/// The longest caption, file name or description kept with a message.
pub const MAX_DETAIL_CHARS: usize = 1024;

/// A kind in an owner's words ("Photo"); `None` for text.
pub const fn label(kind: MessageKind) -> Option<&'static str> {
    match kind {
        MessageKind::Text => None,
        MessageKind::Image => Some("Photo"),
        MessageKind::Audio => Some("Voice note"),
        MessageKind::Video => Some("Video"),
        MessageKind::Document => Some("Document"),
        MessageKind::Sticker => Some("Sticker"),
        MessageKind::Location => Some("Location"),
        MessageKind::Contacts => Some("Contact card"),
        MessageKind::Button => Some("Button reply"),
        MessageKind::Other => Some("Other message"),
    }
}

/// A message on one line of words: its text, or `[Photo] caption`.
pub fn summary(kind: MessageKind, text: &str) -> String {
    let text = text.trim();
    match (label(kind), text.is_empty()) {
        (None, _) => text.to_owned(),
        (Some(label), true) => format!("[{label}]"),
        (Some(label), false) => format!("[{label}] {text}"),
    }
}

/// A caption, file name or description as stored: trimmed, at most
/// `MAX_DETAIL_CHARS` characters.
pub fn detail(text: &str) -> String {
    text.trim().chars().take(MAX_DETAIL_CHARS).collect()
}

/// A message's text as stored: text as it is, the words about anything
/// else as `detail`.
pub fn stored_text(kind: MessageKind, text: &str) -> String {
    match kind {
        MessageKind::Text => text.to_owned(),
        _ => detail(text),
    }
}

/// What the bot says, once per conversation, when a customer sends
/// something other than text.
pub const fn text_only_notice(language: Language) -> &'static str {
    match language {
        Language::En => {
            "Thanks! I can only read text messages, so a person from our team will look at this and get back to you."
        }
        Language::De => {
            "Danke! Ich kann nur Textnachrichten lesen; jemand aus unserem Team sieht sich das an und meldet sich bei Ihnen."
        }
        Language::Es => {
            "¡Gracias! Solo puedo leer mensajes de texto, así que una persona de nuestro equipo lo revisará y te responderá."
        }
        Language::Fr => {
            "Merci ! Je ne peux lire que des messages texte : une personne de notre équipe va regarder et vous répondre."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn every_kind_but_text_has_words_and_a_summary_keeps_the_caption() {
        for kind in MessageKind::iter() {
            assert_eq!(label(kind).is_none(), kind == MessageKind::Text, "{kind:?}");
        }
        assert_eq!(summary(MessageKind::Text, " hi "), "hi");
        assert_eq!(summary(MessageKind::Image, ""), "[Photo]");
        assert_eq!(
            summary(MessageKind::Document, "menu.pdf"),
            "[Document] menu.pdf"
        );
        assert_eq!(
            detail(&"x".repeat(MAX_DETAIL_CHARS + 5)).len(),
            MAX_DETAIL_CHARS
        );
    }

    #[test]
    fn the_text_only_notice_exists_in_every_language() {
        for language in Language::ALL {
            assert!(!text_only_notice(language).is_empty());
        }
    }
}
