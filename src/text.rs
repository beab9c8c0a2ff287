//! Small text helpers shared by messages, pages and replies.

/// "lunes" → "Lunes": the first character upper-cased (Unicode-aware).
pub fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "the bot is not running" → "The bot is not running.": a message shown
/// to users as a sentence.
pub fn sentence(text: &str) -> String {
    let mut out = capitalize(text);
    if !out.is_empty() && !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Text as every database can store it: PostgreSQL refuses U+0000 in
/// text, so a NUL a customer's message carries becomes U+FFFD (the
/// replacement character), as an invalid byte would.
pub fn storable(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{FFFD}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_becomes_the_replacement_character_and_other_text_stays() {
        let mut text = "a\0b\0".to_owned();
        storable(&mut text);
        assert_eq!(text, "a\u{FFFD}b\u{FFFD}");
        let mut text = "héllo\n".to_owned();
        storable(&mut text);
        assert_eq!(text, "héllo\n");
    }

    #[test]
    fn capitalizes_and_ends_sentences_once() {
        assert_eq!(capitalize("ñu"), "Ñu");
        assert_eq!(capitalize(""), "");
        assert_eq!(sentence("cannot pause"), "Cannot pause.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
