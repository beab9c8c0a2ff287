//! What a customer's message asks, by keywords.
//!
//! Owns: the keyword table for every supported language and the text
//! normalisation it is matched against (lowercase, accents folded by hand,
//! punctuation as word breaks). Must not: know templates or reply texts, or
//! guess beyond keywords; a smarter engine (an LLM) would sit next to this,
//! not inside it.

use crate::domain::language::Language;

/// The questions the template engine can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    Greeting,
    OpeningHours,
    Prices,
    Status,
    Human,
    /// Where the business is.
    Location,
    Unknown,
}

impl Intent {
    pub const ALL: [Intent; 7] = [
        Intent::Greeting,
        Intent::OpeningHours,
        Intent::Prices,
        Intent::Status,
        Intent::Human,
        Intent::Location,
        Intent::Unknown,
    ];

    /// The stable name shown to owners ("which rule answered").
    pub const fn as_str(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::OpeningHours => "opening_hours",
            Intent::Prices => "prices",
            Intent::Status => "status",
            Intent::Human => "human",
            Intent::Location => "location",
            Intent::Unknown => "unknown",
        }
    }
}

/// Keywords of one intent. Patterns are written already normalised
/// (lowercase ASCII, accents folded: "geöffnet" is "geoffnet"); a test keeps
/// them so. `stem*` matches any word that starts with `stem`; a pattern with
/// a space matches those whole words in a row ("rendez-vous" arrives as
/// "rendez vous"); anything else matches one whole word.
struct Rule {
    intent: Intent,
    /// `Some` for words that mean this only in one language (Spanish
    /// "personal" is staff, English "personal" is not a person).
    only_in: Option<Language>,
    patterns: &'static [&'static str],
}

/// In priority order: the first rule with a match wins. A message often
/// greets and asks ("Hallo, was kostet ein Haarschnitt?"), so the question
/// beats the greeting; asking for a person beats everything, because a
/// customer who asks for one should never be kept with the bot.
const RULES: &[Rule] = &[
    Rule {
        intent: Intent::Human,
        only_in: None,
        patterns: &[
            // en
            "human",
            "agent",
            "agents",
            "person",
            "someone",
            "operator*",
            // de
            "mensch*",
            "mitarbeiter*",
            "berater*",
            "ansprechpartner*",
            // es
            "persona",
            "humano",
            "agente",
            "operador*",
            // fr
            "humain",
            "personne",
            "conseiller*",
            "operateur*",
        ],
    },
    Rule {
        intent: Intent::Human,
        only_in: Some(Language::Es),
        patterns: &["personal"],
    },
    Rule {
        intent: Intent::Status,
        only_in: None,
        patterns: &[
            // en
            "booking*",
            "appointment*",
            "reservation*",
            "order*",
            "status",
            "tracking",
            "ticket*",
            "where is my",
            // de ("termine" is also French "terminé": only for German, below)
            "termin",
            "terminvereinbarung",
            "buchung*",
            "bestell*",
            "reservier*",
            "sendung*",
            "lieferung*",
            // es
            "reserva*",
            "cita",
            "citas",
            "pedido*",
            "envio*",
            "seguimiento",
            // fr
            "rendez vous",
            "rdv",
            "commande*",
            "suivi",
            "colis",
            "livraison*",
        ],
    },
    Rule {
        intent: Intent::Status,
        only_in: Some(Language::De),
        patterns: &["termine", "terminen"],
    },
    Rule {
        intent: Intent::Prices,
        only_in: None,
        patterns: &[
            // en
            "price*",
            "cost",
            "costs",
            "how much",
            "catalog*",
            "menu*",
            "fee",
            "fees",
            // de
            "preis*",
            "kosten",
            "kostet",
            "katalog*",
            "wie viel",
            "wieviel",
            "speisekarte",
            // es
            "precio*",
            "cuesta",
            "cuestan",
            "costo",
            "coste",
            "cuanto cuesta",
            // fr
            "prix",
            "tarif*",
            "combien",
            "coute",
            "coutent",
        ],
    },
    Rule {
        intent: Intent::Prices,
        only_in: Some(Language::Es),
        patterns: &["carta"],
    },
    Rule {
        intent: Intent::Prices,
        only_in: Some(Language::Fr),
        patterns: &["carte"],
    },
    Rule {
        intent: Intent::OpeningHours,
        only_in: None,
        patterns: &[
            // en
            "hour*",
            "open*",
            "close",
            "closed",
            "closing",
            // de
            "offnungszeit*",
            "oeffnungszeit*",
            "geoffnet",
            "geoeffnet",
            "offn*",
            "oeffn*",
            "offen",
            "geschlossen",
            "sprechzeit*",
            // es
            "horario*",
            "hora",
            "horas",
            "abierto*",
            "abierta*",
            "abre",
            "abren",
            "abrir",
            "cerrado*",
            "cierra*",
            // fr
            "horaire*",
            "ouvert*",
            "ouvre*",
            "ouvrez",
            "ferme*",
            "heure",
            "heures",
        ],
    },
    Rule {
        intent: Intent::Location,
        only_in: None,
        patterns: &[
            // en
            "address",
            "location",
            "located",
            "directions",
            "where are you",
            "where is your",
            "find you",
            // de
            "adresse",
            "anschrift",
            "standort",
            "wegbeschreibung",
            "wo sind sie",
            "wo seid ihr",
            "wo finde ich",
            // es
            "direccion",
            "ubicacion",
            "ubicados",
            "donde estais",
            "donde estan",
            "donde queda",
            // fr
            "ou etes vous",
            "ou se trouve",
            "ou vous trouver",
            "itineraire",
        ],
    },
    Rule {
        intent: Intent::Greeting,
        only_in: None,
        patterns: &[
            // en
            "hi",
            "hello",
            "hey",
            "good morning",
            "good afternoon",
            "good evening",
            // de
            "hallo",
            "servus",
            "moin",
            "guten tag",
            "guten morgen",
            "guten abend",
            "gruss gott",
            "gruezi",
            // es
            "hola",
            "buenas",
            "buenos dias",
            "buenas tardes",
            "buenas noches",
            // fr
            "bonjour",
            "bonsoir",
            "salut",
            "coucou",
        ],
    },
];

/// The intent of a customer's message. Keywords of every supported language
/// count whatever the tenant's language (customers mix languages);
/// `language` only switches on the few words that are ambiguous across them.
pub fn detect_intent(text: &str, language: Language) -> Intent {
    let normalised = normalise(text);
    let words: Vec<&str> = normalised.split_whitespace().collect();
    detect_intent_in(&words, language)
}

/// `detect_intent` on a message already normalised and cut into words.
pub fn detect_intent_in(words: &[&str], language: Language) -> Intent {
    RULES
        .iter()
        .filter(|rule| rule.only_in.is_none_or(|only| only == language))
        .find(|rule| rule.patterns.iter().any(|p| matches(p, words)))
        .map_or(Intent::Unknown, |rule| rule.intent)
}

fn matches(pattern: &str, words: &[&str]) -> bool {
    if pattern.contains(' ') {
        let phrase: Vec<&str> = pattern.split(' ').collect();
        words.windows(phrase.len()).any(|w| w == phrase.as_slice())
    } else if let Some(stem) = pattern.strip_suffix('*') {
        words.iter().any(|w| w.starts_with(stem))
    } else {
        words.contains(&pattern)
    }
}

/// Lowercase words separated by single spaces, Latin accents folded ("Öffnungszeiten?" → "offnungszeiten",
/// "rendez-vous" → "rendez vous"), combining accents dropped, everything
/// else that is not a letter or digit a word break.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            // Combining accents ("e" + U+0301, as some keyboards send it).
            '\u{0300}'..='\u{036F}' => {}
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Intent::*;
    use Language::{De, En, Es, Fr};

    #[test]
    fn messages_in_every_language_find_their_intent() {
        let cases = [
            // Greetings
            (En, "Hi!", Greeting),
            (En, "HELLO there", Greeting),
            (En, "good morning :)", Greeting),
            (De, "Hallo", Greeting),
            (De, "Guten Tag!", Greeting),
            (De, "Grüß Gott", Greeting),
            (Es, "¡Hola!", Greeting),
            (Es, "Buenos días", Greeting),
            (Fr, "Bonjour", Greeting),
            (Fr, "Salut !", Greeting),
            // Opening hours
            (En, "What are your opening hours?", OpeningHours),
            (En, "Are you OPEN tomorrow?", OpeningHours),
            (De, "Öffnungszeiten?", OpeningHours),
            (De, "ÖFFNUNGSZEITEN", OpeningHours),
            (De, "Oeffnungszeiten bitte", OpeningHours),
            (De, "Habt ihr heute geöffnet?", OpeningHours),
            (De, "Hallo, wann haben Sie geöffnet?", OpeningHours),
            (Es, "¿Cuál es el horario?", OpeningHours),
            (Es, "¿Está ABIERTO hoy?", OpeningHours),
            (Es, "¿A qué hora abren?", OpeningHours),
            (Fr, "Quels sont vos horaires ?", OpeningHours),
            (Fr, "Vous êtes ouverts dimanche ?", OpeningHours),
            (Fr, "C'est fermé ?", OpeningHours),
            // Prices
            (En, "How much is a haircut?", Prices),
            (En, "Send me your price list", Prices),
            (En, "Do you have a catalogue?", Prices),
            (De, "Was kostet das?", Prices),
            (De, "Preise?", Prices),
            (De, "Haben Sie einen Katalog", Prices),
            (Es, "¿Precio?", Prices),
            (Es, "¿Tenéis CATÁLOGO?", Prices),
            (Es, "¿Cuánto cuesta?", Prices),
            (Fr, "Quel est le prix ?", Prices),
            (Fr, "Vos tarifs svp", Prices),
            (Fr, "Ça coûte combien ?", Prices),
            // Status
            (En, "Where is my order?", Status),
            (En, "I want to change my appointment", Status),
            (En, "status of ticket 42", Status),
            (De, "Ich möchte einen Termin", Status),
            (De, "Wo bleibt meine Bestellung?", Status),
            (De, "Meine Buchung", Status),
            (Es, "Quiero una cita", Status),
            (Es, "¿Dónde está mi pedido?", Status),
            (Es, "Mi reserva", Status),
            (Fr, "Je voudrais un rendez-vous", Status),
            (Fr, "Où est ma commande ?", Status),
            (Fr, "Ma réservation", Status),
            // Human
            (En, "I want to talk to a human", Human),
            (En, "Agent please", Human),
            (En, "Can I speak to a real person about my order?", Human),
            (De, "Ich möchte mit einem Menschen sprechen", Human),
            (De, "Bitte einen Mitarbeiter", Human),
            (Es, "Quiero hablar con una persona", Human),
            (Es, "Un agente, por favor", Human),
            (Fr, "Je veux parler à un humain", Human),
            (Fr, "Un conseiller svp", Human),
            // Location
            (En, "Where are you?", Location),
            (En, "What is your address?", Location),
            (De, "Wo sind Sie?", Location),
            (De, "Ihre Adresse bitte", Location),
            (Es, "¿Dónde estáis?", Location),
            (Es, "¿Cuál es la dirección?", Location),
            (Fr, "Où êtes-vous ?", Location),
            (Fr, "Votre adresse ?", Location),
            // Unknown
            (En, "asdf", Unknown),
            (En, "", Unknown),
            (De, "Danke schön", Unknown),
            (Es, "¿Aceptáis perros?", Unknown),
            (Fr, "Merci beaucoup", Unknown),
            // Word-ish: a keyword inside another word does not count.
            (En, "This is a chip", Unknown),
            (En, "Ohio", Unknown),
            (En, "thistle", Unknown),
        ];
        for (lang, text, want) in cases {
            assert_eq!(detect_intent(text, lang), want, "{lang:?} {text:?}");
        }
    }

    #[test]
    fn keywords_of_other_languages_count_too() {
        let cases = [
            (En, "Hola", Greeting),
            (De, "opening hours?", OpeningHours),
            (Es, "prix", Prices),
            (Fr, "Bestellung 1234", Status),
            (En, "humano", Human),
        ];
        for (lang, text, want) in cases {
            assert_eq!(detect_intent(text, lang), want, "{lang:?} {text:?}");
        }
    }

    #[test]
    fn ambiguous_words_count_only_in_their_own_language() {
        let cases = [
            (Es, "Quiero hablar con el personal", Human),
            (En, "personal question", Unknown),
            (De, "Termine für morgen?", Status),
            (Fr, "C'est terminé", Unknown),
            (Es, "¿Tenéis carta?", Prices),
            (Fr, "Vous avez une carte ?", Prices),
            (En, "carte blanche", Unknown),
        ];
        for (lang, text, want) in cases {
            assert_eq!(detect_intent(text, lang), want, "{lang:?} {text:?}");
        }
    }

    #[test]
    fn normalising_folds_case_accents_and_punctuation() {
        let cases = [
            ("Öffnungszeiten?", "offnungszeiten"),
            ("  RENDEZ-VOUS!! ", "rendez vous"),
            ("Grüß Gott", "gruss gott"),
            ("¿Cuánto CUESTA?", "cuanto cuesta"),
            ("Cafe\u{301} crème", "cafe creme"),
            ("Œuvre ÇA", "oeuvre ca"),
            ("l'heure", "l heure"),
            ("ticket #42", "ticket 42"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input), want, "{input:?}");
        }
    }

    #[test]
    fn every_keyword_is_written_normalised() {
        for rule in RULES {
            for pattern in rule.patterns {
                let bare = pattern.strip_suffix('*').unwrap_or(pattern);
                assert_eq!(normalise(bare), bare, "{:?}: {pattern:?}", rule.intent);
                assert!(!bare.contains('*'), "{pattern:?}: '*' only at the end");
                assert!(
                    !pattern.ends_with('*') || bare.len() >= 3,
                    "{pattern:?}: stem too short to be a word start"
                );
            }
        }
    }
}
