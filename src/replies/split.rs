//! Cutting an answer into messages of at most N characters.
//!
//! Owns: where a long text is split. Must not: change the text beyond
//! dropping the whitespace at a split (and at both ends).

/// How good a place to split is; a later variant is a better place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    Space,
    Sentence,
    Line,
    Paragraph,
}

/// Splits `text` into parts of at most `max` characters (chars, not bytes;
/// `max` below 1 counts as 1). It splits at the last paragraph break (a blank
/// line) that fits, else the last line break, else the last space after a
/// sentence end (`.`, `!`, `?`, `…`, `;`, `:`), else the last space; only a
/// single word longer than `max` is cut inside, and then not between an
/// emoji and its modifiers or a letter and its combining accent (unless that
/// one cluster is itself longer than `max`). The whitespace at a split and at
/// both ends is dropped; nothing else is. Never returns an empty part: a text
/// of only whitespace gives no parts.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let chars: Vec<char> = text.chars().collect();
    let end = chars
        .iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(0, |i| i + 1);
    // Trailing whitespace is gone, so every whitespace run below is followed
    // by a visible character.
    let chars = &chars[..end];
    let mut parts = Vec::new();
    let mut start = 0;
    loop {
        while start < end && chars[start].is_whitespace() {
            start += 1;
        }
        if start >= end {
            break;
        }
        if end - start <= max {
            parts.push(chars[start..].iter().collect());
            break;
        }
        let (cut, next) = break_point(chars, start, max);
        parts.push(chars[start..cut].iter().collect());
        start = next;
    }
    parts
}

/// Where to end the part that starts at `start` (a visible character), and
/// where the next part starts. Requires more than `max` chars from `start`.
fn break_point(chars: &[char], start: usize, max: usize) -> (usize, usize) {
    // A part is chars[start..cut] with cut <= limit; whitespace starting at
    // `limit` still counts, the part before it is exactly `max` long.
    let limit = start + max;
    let mut best: Option<(Break, usize, usize)> = None;
    let mut i = start + 1;
    while i <= limit {
        if !chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let run_end = chars[i..]
            .iter()
            .position(|c| !c.is_whitespace())
            .map_or(chars.len(), |p| i + p);
        let kind = match chars[i..run_end].iter().filter(|&&c| c == '\n').count() {
            0 if ends_sentence(&chars[start..i]) => Break::Sentence,
            0 => Break::Space,
            1 => Break::Line,
            _ => Break::Paragraph,
        };
        // `>=`: among equally good places, the last one fills the part most.
        if best.is_none_or(|(best_kind, _, _)| kind >= best_kind) {
            best = Some((kind, i, run_end));
        }
        i = run_end;
    }
    if let Some((_, cut, next)) = best {
        return (cut, next);
    }
    // One word longer than `max`: cut it, but keep a character together with
    // what modifies it when the part can still hold something before it.
    let mut cut = limit;
    while cut > start + 1 && (extends_previous(chars[cut]) || chars[cut - 1] == ZWJ) {
        cut -= 1;
    }
    (cut, cut)
}

const ZWJ: char = '\u{200D}';

fn ends_sentence(before: &[char]) -> bool {
    const ENDS: [char; 6] = ['.', '!', '?', '…', ';', ':'];
    const CLOSERS: [char; 7] = ['"', '\'', ')', '»', '”', '’', '“'];
    match before {
        [.., end] if ENDS.contains(end) => true,
        [.., end, closer] if CLOSERS.contains(closer) => ENDS.contains(end),
        _ => false,
    }
}

/// Characters that belong to the one before them on screen.
fn extends_previous(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'          // combining accents
        | '\u{20D0}'..='\u{20FF}'        // combining marks for symbols (keycaps)
        | '\u{FE00}'..='\u{FE0F}'        // variation selectors (emoji style)
        | '\u{1F3FB}'..='\u{1F3FF}'      // skin tone modifiers
        | '\u{E0020}'..='\u{E007F}'      // tag characters (subdivision flags)
        | ZWJ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, max: usize) -> Vec<String> {
        split_message(text, max)
    }

    fn visible(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn splits_at_the_best_place_that_fits() {
        let cases: &[(&str, usize, &[&str])] = &[
            // Exact boundaries.
            ("abcde", 5, &["abcde"]),
            ("abcdef", 5, &["abcde", "f"]),
            ("abcde f", 5, &["abcde", "f"]),
            ("abc defgh", 5, &["abc", "defgh"]),
            ("Hello world", 11, &["Hello world"]),
            ("Hello world", 10, &["Hello", "world"]),
            // Whitespace at the ends and at splits is dropped.
            ("  Hello   world  ", 5, &["Hello", "world"]),
            ("  Hello  ", 5, &["Hello"]),
            // A paragraph break beats a later sentence end or space.
            (
                "One. Two.\n\nThree four five.",
                20,
                &["One. Two.", "Three four five."],
            ),
            // A blank line with spaces or \r in it is still a paragraph break.
            (
                "One. Two.\r\n \r\nThree four",
                16,
                &["One. Two.", "Three four"],
            ),
            // A line break beats a later sentence end.
            ("a b\nc. d e f", 10, &["a b", "c. d e f"]),
            // A sentence end beats a later space, also before a closing quote.
            (
                "Hello there. How are you doing",
                20,
                &["Hello there.", "How are you doing"],
            ),
            (
                "He said \"yes.\" Then we left the shop",
                25,
                &["He said \"yes.\"", "Then we left the shop"],
            ),
            // The latest of equally good places.
            ("aa bb cc dd", 8, &["aa bb cc", "dd"]),
            // Only a word longer than max is cut inside.
            ("a bbbbbbbbbbbb c", 5, &["a", "bbbbb", "bbbbb", "bb c"]),
            ("abcdefghij", 3, &["abc", "def", "ghi", "j"]),
            // Unicode is counted in chars, not bytes.
            ("Grüße 😀😀😀", 5, &["Grüße", "😀😀😀"]),
            ("äöüäöü", 3, &["äöü", "äöü"]),
            // An emoji stays with its skin tone; an accent with its letter.
            ("👍🏽👍🏽", 3, &["👍🏽", "👍🏽"]),
            ("ae\u{301}b", 2, &["a", "e\u{301}", "b"]),
            // A cluster longer than max is cut after all: parts never exceed max.
            ("👍🏽", 1, &["👍", "🏽"]),
            // max below 1 counts as 1.
            ("ab", 0, &["a", "b"]),
            // Nothing visible: nothing to send.
            ("", 5, &[]),
            (" \n\n \t", 5, &[]),
        ];
        for (text, max, want) in cases {
            assert_eq!(split(text, *max), *want, "{text:?} at {max}");
        }
    }

    #[test]
    fn parts_never_exceed_max_are_never_empty_and_lose_nothing_visible() {
        let texts = [
            "Hello world",
            "One. Two.\n\nThree four five.\nSix! Seven? Eight…  nine",
            "Grüße aus München 😀🇩🇪 — ¿Qué tal? Très bien, merci ! 👩‍👩‍👧‍👦👍🏽",
            "averyveryveryverylongwordwithoutanyspaces and then some",
            "\n\n  leading and trailing  \n\n",
            "a\u{301}\u{302}\u{303} e\u{301}",
        ];
        for text in texts {
            for max in 0..=text.chars().count() + 1 {
                let parts = split(text, max);
                for part in &parts {
                    assert!(!part.is_empty(), "{text:?} at {max}: empty part");
                    assert_eq!(part.trim(), part, "{text:?} at {max}: untrimmed");
                    assert!(
                        part.chars().count() <= max.max(1),
                        "{text:?} at {max}: {part:?} too long"
                    );
                }
                assert_eq!(
                    visible(&parts.concat()),
                    visible(text),
                    "{text:?} at {max}: characters lost or moved"
                );
                // The parts are the text itself, cut: joined with the
                // whitespace dropped at each split, they read the same.
                let mut rest = text.trim();
                for part in &parts {
                    assert!(rest.starts_with(part.as_str()), "{text:?} at {max}");
                    rest = rest[part.len()..].trim_start();
                }
                assert_eq!(rest, "", "{text:?} at {max}");
            }
        }
    }
}
