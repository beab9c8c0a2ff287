//! A WhatsApp phone number in E.164 form (`+4915112345678`).
//!
//! Owns: turning what people type ("0049 151 1234-5678", "+49 (151) 12345678")
//! into one canonical string. Must not: guess a country for national numbers
//! ("0151…"): without a `+`/`00` prefix we cannot know it, so we refuse.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// E.164: '+' then 8..=15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

const FORMAT_HINT: &str = "must be in international format, e.g. +4915112345678";

impl PhoneNumber {
    /// Parses a number as typed by a person. Spaces, '-', '.', '(' and ')'
    /// are dropped and a leading "00" counts as '+'.
    pub fn parse(input: &str) -> Result<Self, String> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')') && !c.is_whitespace())
            .collect();
        if compact.is_empty() {
            return Err(format!("is missing; it {FORMAT_HINT}"));
        }
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest
        } else {
            return Err(format!("{FORMAT_HINT} (start with + and the country code)"));
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("may only contain digits; it {FORMAT_HINT}"));
        }
        if digits.starts_with('0') {
            return Err(format!(
                "the country code cannot start with 0; it {FORMAT_HINT}"
            ));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(format!(
                "must have 8 to 15 digits after the +; it {FORMAT_HINT}"
            ));
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The E.164 form, with the leading '+'.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without '+', as WhatsApp chat ids use them (`4915112345678@c.us`).
    pub fn digits(&self) -> &str {
        // INVARIANT: `parse` is the only constructor and always puts a '+' first.
        &self.0[1..]
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A number as WhatsApp's APIs write it ("+1 555-010-0000", "15550100000",
/// a wa_id) in E.164 form: its digits after a `+`. Not checked further:
/// WhatsApp gave it.
pub fn e164_digits(display: &str) -> String {
    let digits: String = display.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for PhoneNumber {
    type Error = String;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(format!("phone number {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_display_numbers_become_e164() {
        assert_eq!(e164_digits("+1 555-010-0000"), "+15550100000");
        assert_eq!(e164_digits("15550100000"), "+15550100000");
    }

    #[test]
    fn accepted_inputs_become_e164() {
        let cases = [
            ("+4915112345678", "+4915112345678"),
            ("  +49 151 12345678 ", "+4915112345678"),
            ("+49-151-1234-5678", "+4915112345678"),
            ("+49.151.12345678", "+4915112345678"),
            ("+49 (151) 12345678", "+4915112345678"),
            ("004915112345678", "+4915112345678"),
            ("0049 151 12345678", "+4915112345678"),
            ("+1 (415) 555-0100", "+14155550100"),
            ("+12345678", "+12345678"), // 8 digits: shortest allowed
            ("+123456789012345", "+123456789012345"), // 15 digits: longest allowed
        ];
        for (input, want) in cases {
            let got = PhoneNumber::parse(input)
                .unwrap_or_else(|e| panic!("{input:?} should parse, got error {e:?}"));
            assert_eq!(got.as_str(), want, "input {input:?}");
            assert_eq!(got.to_string(), want, "Display of {input:?}");
            assert_eq!(got.digits(), &want[1..], "digits of {input:?}");
        }
    }

    #[test]
    fn rejected_inputs_explain_the_expected_format() {
        let cases = [
            "",
            "   ",
            "015112345678",      // national format: country unknown
            "4915112345678",     // no + or 00
            "+49 151 1234567x",  // letter
            "+49/151/12345678",  // '/' is not a separator we strip
            "+0915112345678",    // country code cannot start with 0
            "000915112345678",   // "00" then a 0
            "+1234567",          // 7 digits
            "+1234567890123456", // 16 digits
            "+",
            "++4915112345678",
            "+49 151 12345678 ext 12",
        ];
        for input in cases {
            let err = PhoneNumber::parse(input).expect_err(input);
            assert!(
                err.contains("international format, e.g. +4915112345678"),
                "{input:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn serde_round_trips_and_rejects_bad_numbers() {
        let n = PhoneNumber::parse("0049 151 12345678").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"+4915112345678\"");
        let back: PhoneNumber = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        assert!(serde_json::from_str::<PhoneNumber>("\"12\"").is_err());
    }
}
