//! The guardrail on what an AI answer may claim: every price, time, date or
//! other figure in it must come from the tenant's own data (or the
//! customer's words). A model that invents "€20" or "open until 22:00" is
//! caught here, and the bot sends its rule answer instead.
//!
//! Figures are compared by value, not by spelling: "25", "25.00", "25,00"
//! and "€25" are one price; "9:00", "09:00", "9am" and "9 Uhr" one time, and
//! a time in the data also allows its hour ("from 9", "until 6 pm").
//! Strict on purpose: a figure the data does not hold, even a harmless one,
//! sends the rule answer (a missed AI answer costs less than a wrong
//! price).

use std::collections::BTreeSet;

/// A figure as compared: a time of day in minutes, or a number (in
/// hundredths, so 25 and 25.00 are equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Figure {
    Time(u32),
    Number(u64),
}

/// The figures in `answer` that none of `sources` holds, as written in the
/// answer, in order. Empty: the answer may be sent.
pub fn unsupported_figures(answer: &str, sources: &[&str]) -> Vec<String> {
    let mut known = BTreeSet::new();
    for source in sources {
        for (_, figure) in figures(source) {
            known.insert(figure);
            // A time in the data also allows its hour alone, in 24- and
            // 12-hour form ("open 09:00–18:00": "from 9 until 6").
            if let Figure::Time(minutes) = figure
                && minutes % 60 == 0
            {
                let hour = u64::from(minutes / 60);
                known.insert(Figure::Number(hour * 100));
                if hour > 12 {
                    known.insert(Figure::Number((hour - 12) * 100));
                    known.insert(Figure::Time(((hour - 12) * 60) as u32));
                }
            }
        }
    }
    let mut unsupported = Vec::new();
    for (written, figure) in figures(answer) {
        if !known.contains(&figure) && !unsupported.contains(&written) {
            unsupported.push(written);
        }
    }
    unsupported
}

/// Every figure in `text`, with how it was written.
fn figures(text: &str) -> Vec<(String, Figure)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut whole = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            whole.push(chars[i]);
            i += 1;
        }
        // "9:30", "9.30" after a time word is not known here: ':' makes a
        // time, '.' or ',' followed by digits a decimal.
        let mut time_minutes = None;
        let mut fraction = String::new();
        if i + 1 < chars.len() && chars[i] == ':' && chars[i + 1].is_ascii_digit() {
            let mut minutes = String::new();
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                minutes.push(chars[j]);
                j += 1;
            }
            time_minutes = minutes.parse::<u32>().ok();
            i = j;
        } else if i + 1 < chars.len()
            && matches!(chars[i], '.' | ',')
            && chars[i + 1].is_ascii_digit()
        {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                fraction.push(chars[j]);
                j += 1;
            }
            i = j;
        }
        let written: String = chars[start..i].iter().collect();
        let rest: String = chars[i..].iter().take(6).collect::<String>().to_lowercase();
        let rest = rest.trim_start();
        let Ok(value) = whole.parse::<u64>() else {
            // Longer than any price or time: a phone or order number, taken
            // as it is written.
            found.push((written, Figure::Number(u64::MAX)));
            continue;
        };
        let figure = if let Some(minutes) = time_minutes {
            Figure::Time((value as u32).saturating_mul(60).saturating_add(minutes))
        } else if fraction.is_empty() && value <= 24 && is_time_word(rest) {
            let pm = rest.starts_with("pm") || rest.starts_with("p.m");
            let hour = if pm && value < 12 { value + 12 } else { value };
            Figure::Time((hour * 60) as u32)
        } else {
            let cents = match fraction.len() {
                0 => 0,
                1 => fraction.parse::<u64>().unwrap_or(0) * 10,
                // "1.000" in German is a thousand: three digits read as a
                // decimal would compare wrongly either way; take the first two.
                _ => fraction[..2].parse::<u64>().unwrap_or(0),
            };
            Figure::Number(value.saturating_mul(100).saturating_add(cents))
        };
        found.push((written, figure));
    }
    found
}

/// "am", "pm", "a.m.", "uhr", "h" after a number make it a time of day.
fn is_time_word(rest: &str) -> bool {
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic() || *c == '.')
        .collect();
    matches!(
        word.trim_end_matches('.'),
        "am" | "pm" | "a.m" | "p.m" | "uhr" | "h" | "o'clock"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHEET: &str = "Haircut: 25.00 EUR (30 min)\nColour: 49,90 EUR\n\
        Monday: 09:00–18:00\nSaturday: 10:00–14:30\nPhone: +49 30 1234567";

    #[test]
    fn figures_from_the_data_pass_however_they_are_written() {
        for answer in [
            "A haircut is €25.",
            "A haircut costs 25,00 EUR and takes 30 minutes.",
            "Colour is 49.90 euros.",
            "We open at 9 am and close at 6 pm on Mondays.",
            "Mondays from 9:00 until 18:00, Saturdays 10–14:30.",
            "Ruf uns an: 030 1234567, Montag ab 9 Uhr.",
            "Sure, we can help with that!",
        ] {
            assert_eq!(
                unsupported_figures(answer, &[SHEET]),
                Vec::<String>::new(),
                "{answer}"
            );
        }
    }

    #[test]
    fn an_invented_price_time_or_date_is_caught() {
        for (answer, caught) in [
            ("A beard trim is only €15!", "15"),
            ("A haircut costs 20 EUR.", "20"),
            ("We are open until 22:00 tonight.", "22:00"),
            ("Come by at 8 am.", "8"),
            ("We have a special on 24.12.", "24.12"),
            ("Colour is 49.50.", "49.50"),
        ] {
            let unsupported = unsupported_figures(answer, &[SHEET]);
            assert_eq!(unsupported, [caught], "{answer}");
        }
    }

    #[test]
    fn the_customers_own_figures_may_be_repeated() {
        let question = "Do you have time for 3 people at 17:30?";
        let answer = "For 3 people at 17:30 please book online.";
        assert_eq!(
            unsupported_figures(answer, &[SHEET]),
            ["3", "17:30"],
            "without the question"
        );
        assert!(unsupported_figures(answer, &[SHEET, question]).is_empty());
    }
}
