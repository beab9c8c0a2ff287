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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalizes_and_ends_sentences_once() {
        assert_eq!(capitalize("ñu"), "Ñu");
        assert_eq!(capitalize(""), "");
        assert_eq!(sentence("cannot pause"), "Cannot pause.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
