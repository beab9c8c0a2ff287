//! A tenant's knowledge made ready for matching, once per settings load:
//! FAQ triggers and service names normalised and indexed by word, so one
//! message costs a few hash lookups per word whatever the number of
//! entries (500 FAQ entries and 200 services answer in microseconds).
//!
//! Owns: `CompiledKnowledge` and its two matchers (which FAQ entry a
//! message asks, which services it names). Must not: render answers (that
//! is `replies::reply`) or do I/O.

use std::collections::HashMap;

use crate::domain::knowledge::{Knowledge, Service};

use super::intent::normalise;

/// One FAQ trigger, normalised: whole words in a row (a plural in the
/// message matches a singular trigger word); the last one may be a stem
/// ("park*").
#[derive(Debug)]
struct Trigger {
    /// The FAQ entry's index in the document.
    entry: usize,
    words: Box<[String]>,
    stem_last: bool,
}

impl Trigger {
    fn matches_at(&self, words: &[&str], at: usize) -> bool {
        let Some(window) = words.get(at..at + self.words.len()) else {
            return false;
        };
        let last = self.words.len() - 1;
        self.words
            .iter()
            .zip(window)
            .enumerate()
            .all(|(i, (t, w))| {
                if i == last && self.stem_last {
                    w.starts_with(t.as_str())
                } else {
                    t == w || singular(w) == Some(t.as_str())
                }
            })
    }
}

/// Words of a service name that say nothing about which service is meant.
const NAME_STOPWORDS: &[&str] = &[
    "and", "the", "for", "with", "und", "mit", "der", "die", "das", "fur", "con", "los", "las",
    "del", "para", "les", "des", "pour", "avec", "une",
];

/// The knowledge of one tenant, ready to answer.
#[derive(Debug, Default)]
pub struct CompiledKnowledge {
    doc: Knowledge,
    triggers: Vec<Trigger>,
    /// Trigger indexes by their first word (exact first words).
    by_first_word: HashMap<String, Vec<usize>>,
    /// Triggers of one stem word ("park*") by their stem: a word looks up
    /// each of its prefixes.
    stem_first: HashMap<String, Vec<usize>>,
    /// Active services by the words of their names (and the singular of a
    /// plural word).
    service_words: HashMap<String, Vec<usize>>,
    /// Per service: how many meaningful words its name has.
    name_words: Vec<u32>,
}

impl CompiledKnowledge {
    pub fn compile(doc: Knowledge) -> Self {
        let mut triggers = Vec::new();
        for (entry, faq) in doc.faq.iter().enumerate().filter(|(_, f)| f.enabled) {
            for trigger in &faq.triggers {
                let normalised = normalise(trigger);
                let words: Box<[String]> =
                    normalised.split_whitespace().map(str::to_owned).collect();
                if words.is_empty() {
                    continue;
                }
                triggers.push(Trigger {
                    entry,
                    words,
                    stem_last: trigger.trim_end().ends_with('*'),
                });
            }
        }
        let mut by_first_word: HashMap<String, Vec<usize>> = HashMap::new();
        let mut stem_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, trigger) in triggers.iter().enumerate() {
            if trigger.stem_last && trigger.words.len() == 1 {
                stem_first
                    .entry(trigger.words[0].clone())
                    .or_default()
                    .push(i);
            } else {
                by_first_word
                    .entry(trigger.words[0].clone())
                    .or_default()
                    .push(i);
            }
        }
        let mut service_words: HashMap<String, Vec<usize>> = HashMap::new();
        let mut name_words = vec![0; doc.services.len()];
        for (i, service) in doc.services.iter().enumerate().filter(|(_, s)| s.active) {
            let name = normalise(&service.name);
            let mut distinct: Vec<&str> = name.split_whitespace().collect();
            distinct.sort_unstable();
            distinct.dedup();
            for word in distinct {
                let meaningful =
                    word.chars().count() >= 3 || word.bytes().all(|b| b.is_ascii_digit());
                if !meaningful || NAME_STOPWORDS.contains(&word) {
                    continue;
                }
                name_words[i] += 1;
                let forms = [Some(word), singular(word)];
                for form in forms.into_iter().flatten() {
                    let list = service_words.entry(form.to_owned()).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        Self {
            doc,
            triggers,
            by_first_word,
            stem_first,
            service_words,
            name_words,
        }
    }

    pub fn doc(&self) -> &Knowledge {
        &self.doc
    }

    /// The first enabled FAQ entry (in the owner's order) one of whose
    /// triggers is in `words` (a normalised message).
    pub fn faq_for(&self, words: &[&str]) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut consider = |trigger: &Trigger, at: usize| {
            if best.is_none_or(|b| trigger.entry < b) && trigger.matches_at(words, at) {
                best = Some(trigger.entry);
            }
        };
        for (at, word) in words.iter().enumerate() {
            let singular = singular(word).and_then(|w| self.by_first_word.get(w));
            for list in [self.by_first_word.get(*word), singular]
                .into_iter()
                .flatten()
            {
                for &t in list {
                    consider(&self.triggers[t], at);
                }
            }
            if !self.stem_first.is_empty() {
                let prefixes = word
                    .char_indices()
                    .skip(1)
                    .map(|(i, _)| &word[..i])
                    .chain([*word]);
                for list in prefixes.filter_map(|p| self.stem_first.get(p)) {
                    for &t in list {
                        consider(&self.triggers[t], at);
                    }
                }
            }
        }
        best
    }

    /// The active services a message names: those whose every name word it
    /// holds ("beard trim and colouring"); when it names none fully, those
    /// sharing the most name words with it ("beard?"); none when no word of
    /// any name is in it.
    pub fn services_named(&self, words: &[&str]) -> Vec<usize> {
        if self.service_words.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<(usize, u32)> = Vec::new();
        let mut seen: Vec<&str> = Vec::with_capacity(words.len());
        for word in words {
            let form = singular(word).unwrap_or(word);
            if seen.contains(&form) {
                continue;
            }
            seen.push(form);
            let found = self
                .service_words
                .get(*word)
                .or_else(|| self.service_words.get(form));
            for &service in found.into_iter().flatten() {
                match hits.iter_mut().find(|(s, _)| *s == service) {
                    Some((_, n)) => *n += 1,
                    None => hits.push((service, 1)),
                }
            }
        }
        let full = |(s, n): &(usize, u32)| self.name_words.get(*s).is_some_and(|w| n >= w);
        let mut named: Vec<usize> = if hits.iter().any(full) {
            hits.iter().filter(|h| full(h)).map(|(s, _)| *s).collect()
        } else {
            let top = hits.iter().map(|(_, n)| *n).max().unwrap_or(0);
            hits.iter()
                .filter(|(_, n)| *n == top)
                .map(|(s, _)| *s)
                .collect()
        };
        named.sort_unstable();
        named
    }

    /// The active services, in the owner's order.
    pub fn active_services(&self) -> impl Iterator<Item = (usize, &Service)> {
        self.doc
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.active)
    }
}

/// "haircuts" → "haircut", "glasses" → "glass"; `None` when not plural-looking.
fn singular(word: &str) -> Option<&str> {
    if word.chars().count() < 4 {
        return None;
    }
    word.strip_suffix("es")
        .filter(|w| w.ends_with(['s', 'x', 'z']) || w.ends_with("ch") || w.ends_with("sh"))
        .or_else(|| word.strip_suffix('s').filter(|w| !w.ends_with('s')))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::knowledge::KnowledgeInput;

    fn compiled(value: serde_json::Value) -> CompiledKnowledge {
        let input: KnowledgeInput = serde_json::from_value(value).unwrap();
        CompiledKnowledge::compile(input.parse().unwrap())
    }

    fn words(text: &str) -> Vec<String> {
        normalise(text)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    fn faq(k: &CompiledKnowledge, text: &str) -> Option<usize> {
        let w = words(text);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        k.faq_for(&w)
    }

    fn named(k: &CompiledKnowledge, text: &str) -> Vec<usize> {
        let w = words(text);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        k.services_named(&w)
    }

    #[test]
    fn faq_triggers_ignore_accents_and_case_and_match_whole_words() {
        let k = compiled(json!({"faq": [
            {"question": "Parking?", "triggers": ["parking", "Parkplatz", "aparcamiento"], "answer": "Behind the shop"},
            {"question": "Card?", "triggers": ["pay by card", "Kartenzahlung", "carte bancaire"], "answer": "Yes"},
            {"question": "Café?", "triggers": ["CAFÉ"], "answer": "Free coffee"},
            {"question": "Dogs?", "triggers": ["dog*"], "answer": "Dogs welcome"},
            {"question": "Off", "triggers": ["secret"], "answer": "x", "enabled": false}
        ]}));
        let cases = [
            ("Is there PARKING nearby?", Some(0)),
            ("Gibt es einen Parkplatz?", Some(0)),
            ("¿Hay aparcamiento?", Some(0)),
            ("parkingplace", None),
            ("Can I pay by card?", Some(1)),
            ("do you have parkings", Some(0)),
            ("pay by cash, or card", None),
            ("Geht Kartenzahlung?", Some(1)),
            ("Vous prenez la carte bancaire ?", Some(1)),
            ("Do you serve cafe?", Some(2)),
            ("Café au lait?", Some(2)),
            ("cafeteria", None),
            ("My doggy is small", Some(3)),
            ("Dogs?", Some(3)),
            ("hotdog", None),
            ("what is the secret", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(faq(&k, text), want, "{text:?}");
        }
    }

    #[test]
    fn the_first_entry_in_the_owners_order_wins() {
        let k = compiled(json!({"faq": [
            {"question": "Kids?", "triggers": ["kids"], "answer": "a"},
            {"question": "Parking?", "triggers": ["parking"], "answer": "b"}
        ]}));
        assert_eq!(faq(&k, "parking for kids?"), Some(0));
        assert_eq!(faq(&k, "parking?"), Some(1));
    }

    #[test]
    fn a_question_names_the_services_it_shares_the_most_words_with() {
        let k = compiled(json!({"services": [
            {"name": "Haircut", "price": 25, "currency": "EUR"},
            {"name": "Men's haircut", "price": 20, "currency": "EUR"},
            {"name": "Colouring", "price": 49, "currency": "EUR"},
            {"name": "Beard trim", "price": 10, "currency": "EUR"},
            {"name": "Old service", "price": 1, "currency": "EUR", "active": false},
            {"name": "Glasses"}
        ]}));
        let cases: [(&str, &[usize]); 9] = [
            ("How much is a haircut?", &[0]),
            ("How much is a men's haircut?", &[0, 1]),
            ("what do haircuts cost", &[0]),
            ("men?", &[1]),
            ("price of colouring", &[2]),
            ("BEARD?", &[3]),
            ("old service price", &[]),
            ("how much are your glasses", &[5]),
            ("how much does it cost", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(named(&k, text), want, "{text:?}");
        }
    }

    #[test]
    fn plural_forms_fold_to_their_singular() {
        assert_eq!(singular("haircuts"), Some("haircut"));
        assert_eq!(singular("glasses"), Some("glass"));
        assert_eq!(singular("boxes"), Some("box"));
        assert_eq!(singular("class"), None);
        assert_eq!(singular("bus"), None);
    }
}
