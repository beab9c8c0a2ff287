//! The languages a tenant's bot can reply in.
//!
//! Owns: the list of supported languages, their codes (stored in
//! `tenant_config.language` and used in the JSON API) and the default welcome
//! text per language. Must not: hold reply templates beyond that default; the
//! reply engine owns those.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A supported reply language. Serialized as its lowercase code ("en").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Language {
    #[default]
    En,
    De,
    Es,
    Fr,
}

impl Language {
    /// Every supported language, in the order pages list them.
    pub const ALL: [Language; 4] = [Language::En, Language::De, Language::Es, Language::Fr];

    /// Parses a language code, case-insensitively. A tag with a region
    /// ("en-US", "de_AT") counts as its primary subtag.
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        let primary = trimmed.split(['-', '_']).next().unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(primary))
            .ok_or_else(|| {
                let supported: Vec<&str> = Self::ALL.iter().map(|l| l.code()).collect();
                format!(
                    "is not supported ('{trimmed}'); use one of: {}",
                    supported.join(", ")
                )
            })
    }

    /// The ISO 639-1 code, lowercase.
    pub const fn code(&self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Es => "es",
            Language::Fr => "fr",
        }
    }

    /// The language's name in itself, for pickers.
    pub const fn name(&self) -> &'static str {
        match self {
            Language::En => "English",
            Language::De => "Deutsch",
            Language::Es => "Español",
            Language::Fr => "Français",
        }
    }

    /// The welcome message a new tenant starts with, in this language. It
    /// tells the customer what the bot can do: opening hours, prices, or
    /// handing over to a person.
    pub fn default_welcome_message(&self, business_name: &str) -> String {
        let name = business_name.trim();
        let greeting = match (self, name.is_empty()) {
            (Language::En, false) => format!("Hi! Welcome to {name}."),
            (Language::En, true) => "Hi, welcome!".to_owned(),
            (Language::De, false) => format!("Hallo! Willkommen bei {name}."),
            (Language::De, true) => "Hallo und willkommen!".to_owned(),
            (Language::Es, false) => format!("¡Hola! Bienvenido a {name}."),
            (Language::Es, true) => "¡Hola y bienvenido!".to_owned(),
            (Language::Fr, false) => format!("Bonjour ! Bienvenue chez {name}."),
            (Language::Fr, true) => "Bonjour et bienvenue !".to_owned(),
        };
        let offer = match self {
            Language::En => {
                "You can ask me about our opening hours or prices, or ask to talk to a person."
            }
            Language::De => {
                "Sie können mich nach unseren Öffnungszeiten oder Preisen fragen \
                 oder darum bitten, mit einer Person zu sprechen."
            }
            Language::Es => {
                "Puedes preguntarme por nuestro horario o nuestros precios, \
                 o pedir hablar con una persona."
            }
            Language::Fr => {
                "Vous pouvez me demander nos horaires d'ouverture ou nos prix, \
                 ou demander à parler à une personne."
            }
        };
        format!("{greeting} {offer}")
    }
}

/// Shows the code ("en"), which is what forms and the API carry.
impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Language {
    type Error = String;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl Serialize for Language {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// Lenient like `parse` ("EN", "en-US" are accepted), so stored values and
/// API input go through one door.
impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_case_insensitively_and_with_a_region() {
        let cases = [
            ("en", Language::En),
            ("EN", Language::En),
            (" en-US ", Language::En),
            ("en_GB", Language::En),
            ("de", Language::De),
            ("De-AT", Language::De),
            ("es", Language::Es),
            ("es-419", Language::Es),
            ("fr", Language::Fr),
            ("fr-CA", Language::Fr),
        ];
        for (input, want) in cases {
            assert_eq!(Language::parse(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn unsupported_codes_list_the_supported_ones() {
        for input in ["", "it", "english", "e", "-en", "pt-BR"] {
            let err = Language::parse(input).expect_err(input);
            assert!(err.contains("en, de, es, fr"), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn every_language_round_trips_through_its_code_and_serde() {
        for lang in Language::ALL {
            assert_eq!(Language::parse(lang.code()), Ok(lang));
            assert_eq!(lang.to_string(), lang.code());
            let json = serde_json::to_string(&lang).unwrap();
            assert_eq!(json, format!("\"{}\"", lang.code()));
            assert_eq!(serde_json::from_str::<Language>(&json).unwrap(), lang);
        }
        assert!(serde_json::from_str::<Language>("\"xx\"").is_err());
    }

    #[test]
    fn names_are_in_the_language_itself() {
        let names: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["English", "Deutsch", "Español", "Français"]);
    }

    #[test]
    fn welcome_messages_name_the_business_and_differ_per_language() {
        let mut seen = std::collections::HashSet::new();
        for lang in Language::ALL {
            let text = lang.default_welcome_message("  Salon Luna ");
            assert!(text.contains("Salon Luna"), "{lang:?}: {text}");
            assert!(!text.contains("  Salon"), "{lang:?} should trim: {text}");
            assert!(seen.insert(text), "{lang:?} repeats another language");
            let anonymous = lang.default_welcome_message("   ");
            assert!(!anonymous.contains("  "), "{lang:?}: {anonymous}");
        }
    }
}
