//! Every sentence the reply engine can send, per language.
//!
//! Owns: one `Texts` value per supported language, with the template-specific
//! parts (`TemplateTexts`) for BOOKING, ECOMMERCE and SUPPORT, and the tiny
//! placeholder filler (`{day}`, `{time}`, `{hours}`, `{business}`).
//! Must not: decide which text to send (that is `replies::reply`) or fall
//! back to English: a language is added by writing a whole `Texts` for it, so
//! the compiler lists every sentence still missing.
//!
//! Tone: German and French address the customer formally (Sie, vous), Spanish
//! informally (tú), matching `Language::default_welcome_message`.

use entity::enums::TemplateType;

use crate::domain::language::Language;

/// The sentences of one language.
pub(super) struct Texts {
    /// Monday first, as used inside a sentence ("lundi", "Montag").
    pub weekdays: [&'static str; 7],
    /// The next opening inside a sentence: `{day}`, `{time}` (HH:MM).
    pub next_opening: &'static str,
    /// Out of hours with a known next opening: `{next_opening}`.
    pub closed_until: &'static str,
    /// Out of hours and never open again (no next opening).
    pub closed: &'static str,
    /// Added to the out-of-hours answer when the customer asked for a person.
    pub human_when_open: &'static str,
    /// Handing over to a person, when the tenant's people are told at once
    /// (email): `{business}`.
    pub human: &'static str,
    /// Handing over when nobody can be told right away: no quick answer
    /// promised. `{business}`.
    pub human_unnotified: &'static str,
    /// Handing over while closed, with a known next opening:
    /// `{business}`, `{next_opening}`.
    pub human_closed: &'static str,
    /// Where the business is: `{address}`, `{maps_url}` (may be empty).
    pub location: &'static str,
    /// The prices answer when the tenant listed services: `{services}`.
    pub prices_list: &'static str,
    /// Help menu item for the address (shown when there is one).
    pub help_location: &'static str,
    /// A service's duration: `{minutes}`.
    pub minutes: &'static str,
    /// The decimal separator of prices.
    pub decimal: char,
    /// Stands in for `{business}` in `human` when the tenant has no name; it
    /// fits the grammar around `{business}` ("von unserem Team").
    pub our_team: &'static str,
    /// First line of the opening hours answer.
    pub hours_title: &'static str,
    /// One weekday of the opening hours answer: `{day}`, `{hours}`.
    pub hours_line: &'static str,
    /// What a closed day shows instead of a time range.
    pub closed_day: &'static str,
    /// First line of the help menu sent for messages we do not understand.
    pub help_intro: &'static str,
    /// Help menu item for opening hours (names a keyword that triggers it).
    pub help_hours: &'static str,
    /// Help menu item for talking to a person.
    pub help_human: &'static str,
    pub booking: TemplateTexts,
    pub ecommerce: TemplateTexts,
    pub support: TemplateTexts,
}

/// The sentences that depend on the tenant's template.
pub(super) struct TemplateTexts {
    /// Answer to a question about prices (services, catalogue or plans).
    pub prices: &'static str,
    /// Answer to a question about a booking, an order or a ticket.
    pub status: &'static str,
    /// Help menu item for prices (names a keyword that triggers it).
    pub help_prices: &'static str,
    /// Help menu item for the status question (names a keyword).
    pub help_status: &'static str,
}

impl Texts {
    pub(super) const fn template(&self, template: TemplateType) -> &TemplateTexts {
        match template {
            TemplateType::Booking => &self.booking,
            TemplateType::Ecommerce => &self.ecommerce,
            TemplateType::Support => &self.support,
        }
    }
}

/// The sentences of `language`.
pub(super) const fn texts(language: Language) -> &'static Texts {
    match language {
        Language::En => &EN,
        Language::De => &DE,
        Language::Es => &ES,
        Language::Fr => &FR,
    }
}

/// Replaces `{name}` placeholders in one pass, so a value that itself looks
/// like a placeholder (a business called "{day}") is copied as it is. An
/// unknown `{…}` is kept literally.
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    fill_with(template, |name| {
        values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

/// `fill` with the values computed on demand (a placeholder the text does
/// not use costs nothing).
pub(super) fn fill_with(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let from_brace = &rest[open..];
        let known = from_brace
            .find('}')
            .and_then(|close| value(&from_brace[1..close]).map(|v| (close, v)));
        match known {
            Some((close, value)) => {
                out.push_str(&value);
                rest = &from_brace[close + 1..];
            }
            None => {
                out.push('{');
                rest = &from_brace[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

const EN: Texts = Texts {
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    next_opening: "{day} at {time}",
    closed_until: "Thanks for your message! We are closed right now and open again on {next_opening}.",
    closed: "Thanks for your message! We are currently closed.",
    human_when_open: "A person will answer you as soon as we are open again.",
    human: "Thanks! A person from {business} will get back to you here as soon as possible.",
    human_unnotified: "Thanks! Your message stays here for the team of {business}; a person will reply in this chat when they read it.",
    human_closed: "Thanks! A person from {business} will answer you here when we open on {next_opening}.",
    location: "You will find us at {address}.\n{maps_url}",
    prices_list: "Our prices:\n{services}",
    help_location: "where to find us (write \"address\")",
    minutes: "{minutes} min",
    decimal: '.',
    our_team: "our team",
    hours_title: "Our opening hours:",
    hours_line: "{day}: {hours}",
    closed_day: "closed",
    help_intro: "Sorry, I did not quite get that. You can ask me about:",
    help_hours: "our opening hours (write \"hours\")",
    help_human: "talking to a person (write \"human\")",
    booking: TemplateTexts {
        prices: "Our prices depend on the service you choose. Which service are you \
                 interested in? Tell us and we will send you the price and the next free \
                 appointments.",
        status: "To check, move or cancel an appointment, send us your name and the date \
                 and time of your booking. To book a new appointment, tell us the service \
                 and the day that suits you.",
        help_prices: "our services and prices (write \"prices\")",
        help_status: "your appointment (write \"appointment\")",
    },
    ecommerce: TemplateTexts {
        prices: "You will find all our products and prices in our catalogue. Tell us which \
                 product you are looking for and we will send you the details and the \
                 current price.",
        status: "We are happy to help with your order. Please send us your order number: \
                 you will find it in your order confirmation.",
        help_prices: "our products and prices (write \"catalogue\")",
        help_status: "your order (write \"order\")",
    },
    support: TemplateTexts {
        prices: "We offer several plans. Tell us which product or plan you are asking \
                 about and we will send you the current pricing and what is included.",
        status: "To check the status of your support request, please send us your ticket \
                 number. If you do not have one yet, describe your problem and we will open \
                 a ticket for you.",
        help_prices: "our plans and prices (write \"prices\")",
        help_status: "your support ticket (write \"ticket\")",
    },
};

const DE: Texts = Texts {
    weekdays: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    next_opening: "{day} um {time} Uhr",
    closed_until: "Danke für Ihre Nachricht! Wir haben gerade geschlossen und sind am \
                   {next_opening} wieder für Sie da.",
    closed: "Danke für Ihre Nachricht! Wir haben derzeit geschlossen.",
    human_when_open: "Sobald wir wieder geöffnet haben, antwortet Ihnen eine Person.",
    human: "Danke! Eine Person von {business} meldet sich hier so bald wie möglich bei Ihnen.",
    human_unnotified: "Danke! Ihre Nachricht bleibt hier für das Team von {business}; eine Person antwortet in diesem Chat, sobald sie sie liest.",
    human_closed: "Danke! Eine Person von {business} antwortet Ihnen hier, sobald wir am {next_opening} öffnen.",
    location: "Sie finden uns hier: {address}\n{maps_url}",
    prices_list: "Unsere Preise:\n{services}",
    help_location: "unserer Adresse (schreiben Sie „Adresse“)",
    minutes: "{minutes} Min.",
    decimal: ',',
    our_team: "unserem Team",
    hours_title: "Unsere Öffnungszeiten:",
    hours_line: "{day}: {hours}",
    closed_day: "geschlossen",
    help_intro: "Entschuldigung, das habe ich nicht ganz verstanden. Sie können mich fragen nach:",
    help_hours: "unseren Öffnungszeiten (schreiben Sie „Öffnungszeiten“)",
    help_human: "einem Gespräch mit einer Person (schreiben Sie „Mitarbeiter“)",
    booking: TemplateTexts {
        prices: "Unsere Preise hängen von der gewünschten Leistung ab. Welche Leistung \
                 interessiert Sie? Schreiben Sie es uns, dann nennen wir Ihnen den Preis und \
                 die nächsten freien Termine.",
        status: "Um einen Termin zu prüfen, zu verschieben oder abzusagen, schicken Sie uns \
                 bitte Ihren Namen sowie Datum und Uhrzeit Ihrer Buchung. Für einen neuen \
                 Termin nennen Sie uns einfach die Leistung und Ihren Wunschtag.",
        help_prices: "unseren Leistungen und Preisen (schreiben Sie „Preise“)",
        help_status: "Ihrem Termin (schreiben Sie „Termin“)",
    },
    ecommerce: TemplateTexts {
        prices: "Alle unsere Produkte und Preise finden Sie in unserem Katalog. Sagen Sie \
                 uns, welches Produkt Sie suchen, dann schicken wir Ihnen die Details und \
                 den aktuellen Preis.",
        status: "Gern helfen wir Ihnen bei Ihrer Bestellung. Bitte schicken Sie uns Ihre \
                 Bestellnummer: Sie finden sie in Ihrer Bestellbestätigung.",
        help_prices: "unseren Produkten und Preisen (schreiben Sie „Katalog“)",
        help_status: "Ihrer Bestellung (schreiben Sie „Bestellung“)",
    },
    support: TemplateTexts {
        prices: "Wir bieten verschiedene Tarife an. Sagen Sie uns, um welches Produkt oder \
                 welchen Tarif es geht, dann schicken wir Ihnen die aktuellen Preise und \
                 Leistungen.",
        status: "Um den Stand Ihrer Anfrage zu prüfen, schicken Sie uns bitte Ihre \
                 Ticketnummer. Falls Sie noch keine haben, beschreiben Sie uns Ihr Problem, \
                 und wir legen ein Ticket für Sie an.",
        help_prices: "unseren Tarifen und Preisen (schreiben Sie „Preise“)",
        help_status: "Ihrem Support-Ticket (schreiben Sie „Ticket“)",
    },
};

const ES: Texts = Texts {
    weekdays: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    next_opening: "{day} a las {time}",
    closed_until: "¡Gracias por tu mensaje! Ahora mismo estamos cerrados y volvemos a abrir \
                   el {next_opening}.",
    closed: "¡Gracias por tu mensaje! En este momento estamos cerrados.",
    human_when_open: "Una persona te responderá en cuanto volvamos a abrir.",
    human: "¡Gracias! Una persona de {business} te responderá por aquí lo antes posible.",
    human_unnotified: "¡Gracias! Tu mensaje queda aquí para el equipo de {business}; una persona te responderá en este chat cuando lo lea.",
    human_closed: "¡Gracias! Una persona de {business} te responderá por aquí cuando abramos el {next_opening}.",
    location: "Estamos en {address}.\n{maps_url}",
    prices_list: "Nuestros precios:\n{services}",
    help_location: "dónde estamos (escribe «dirección»)",
    minutes: "{minutes} min",
    decimal: ',',
    our_team: "nuestro equipo",
    hours_title: "Nuestro horario:",
    hours_line: "{day}: {hours}",
    closed_day: "cerrado",
    help_intro: "Perdona, no te he entendido bien. Puedes preguntarme por:",
    help_hours: "nuestro horario (escribe «horario»)",
    help_human: "hablar con una persona (escribe «persona»)",
    booking: TemplateTexts {
        prices: "Nuestros precios dependen del servicio que elijas. ¿Qué servicio te \
                 interesa? Dímelo y te enviaremos el precio y las próximas citas \
                 disponibles.",
        status: "Para consultar, cambiar o cancelar una cita, envíanos tu nombre y la fecha \
                 y hora de tu reserva. Para pedir una cita nueva, dinos el servicio y el día \
                 que te venga bien.",
        help_prices: "nuestros servicios y precios (escribe «precios»)",
        help_status: "tu cita (escribe «cita»)",
    },
    ecommerce: TemplateTexts {
        prices: "Encontrarás todos nuestros productos y precios en nuestro catálogo. Dime \
                 qué producto buscas y te enviaremos los detalles y el precio actual.",
        status: "Con gusto te ayudamos con tu pedido. Envíanos tu número de pedido: lo \
                 encontrarás en la confirmación de tu compra.",
        help_prices: "nuestros productos y precios (escribe «catálogo»)",
        help_status: "tu pedido (escribe «pedido»)",
    },
    support: TemplateTexts {
        prices: "Ofrecemos varios planes. Dime por qué producto o plan preguntas y te \
                 enviaremos los precios actuales y lo que incluye cada uno.",
        status: "Para consultar el estado de tu solicitud, envíanos tu número de ticket. Si \
                 aún no tienes uno, descríbenos tu problema y abriremos un ticket para ti.",
        help_prices: "nuestros planes y precios (escribe «precios»)",
        help_status: "tu ticket de soporte (escribe «ticket»)",
    },
};

const FR: Texts = Texts {
    weekdays: [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ],
    next_opening: "{day} à {time}",
    closed_until: "Merci pour votre message ! Nous sommes fermés pour le moment et rouvrons \
                   {next_opening}.",
    closed: "Merci pour votre message ! Nous sommes actuellement fermés.",
    human_when_open: "Une personne vous répondra dès que nous serons de nouveau ouverts.",
    // "de chez" reads right before any name, vowel or not ("de chez Atelier").
    human: "Merci ! Une personne de chez {business} vous répondra ici dès que possible.",
    human_unnotified: "Merci ! Votre message reste ici pour l'équipe de {business} ; une personne vous répondra dans ce chat dès qu'elle le lira.",
    human_closed: "Merci ! Une personne de chez {business} vous répondra ici dès notre réouverture, {next_opening}.",
    location: "Vous nous trouverez à cette adresse : {address}\n{maps_url}",
    prices_list: "Voici nos prix :\n{services}",
    help_location: "notre adresse (écrivez « adresse »)",
    minutes: "{minutes} min",
    decimal: ',',
    our_team: "nous",
    hours_title: "Voici nos horaires d'ouverture :",
    hours_line: "{day} : {hours}",
    closed_day: "fermé",
    help_intro: "Désolé, je n'ai pas bien compris. Vous pouvez me demander :",
    help_hours: "nos horaires d'ouverture (écrivez « horaires »)",
    help_human: "parler à un conseiller (écrivez « conseiller »)",
    booking: TemplateTexts {
        prices: "Nos tarifs dépendent de la prestation choisie. Quelle prestation vous \
                 intéresse ? Dites-le-nous et nous vous enverrons le prix et les prochains \
                 créneaux disponibles.",
        status: "Pour vérifier, déplacer ou annuler un rendez-vous, envoyez-nous votre nom \
                 ainsi que la date et l'heure de votre réservation. Pour un nouveau \
                 rendez-vous, indiquez-nous la prestation et le jour qui vous convient.",
        help_prices: "nos prestations et leurs prix (écrivez « prix »)",
        help_status: "votre rendez-vous (écrivez « rendez-vous »)",
    },
    ecommerce: TemplateTexts {
        prices: "Vous trouverez tous nos produits et leurs prix dans notre catalogue. \
                 Dites-nous quel produit vous cherchez et nous vous enverrons les détails et \
                 le prix actuel.",
        status: "Nous vous aidons volontiers pour votre commande. Envoyez-nous votre numéro \
                 de commande : vous le trouverez dans votre confirmation de commande.",
        help_prices: "nos produits et leurs prix (écrivez « catalogue »)",
        help_status: "votre commande (écrivez « commande »)",
    },
    support: TemplateTexts {
        prices: "Nous proposons plusieurs formules. Dites-nous quel produit ou quelle \
                 formule vous intéresse et nous vous enverrons les tarifs actuels et ce qui \
                 est inclus.",
        status: "Pour connaître l'état de votre demande, envoyez-nous votre numéro de \
                 ticket. Si vous n'en avez pas encore, décrivez-nous votre problème et nous \
                 ouvrirons un ticket pour vous.",
        help_prices: "nos formules et leurs tarifs (écrivez « tarifs »)",
        help_status: "votre ticket d'assistance (écrivez « ticket »)",
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATES: [TemplateType; 3] = [
        TemplateType::Booking,
        TemplateType::Ecommerce,
        TemplateType::Support,
    ];

    /// Every sentence of a language with the placeholder values it is filled
    /// with, for checks that must hold for all of them.
    fn all_filled(t: &Texts) -> Vec<String> {
        let values = [
            ("day", "DAY"),
            ("time", "09:00"),
            ("hours", "09:00–18:00"),
            ("business", "Salon Luna"),
            ("next_opening", "DAY 09:00"),
            ("address", "Main Street 1"),
            ("maps_url", "https://maps.example/x"),
            ("services", "• Haircut"),
            ("minutes", "30"),
        ];
        let mut raw = vec![
            t.next_opening,
            t.human_closed,
            t.location,
            t.prices_list,
            t.help_location,
            t.minutes,
            t.closed_until,
            t.closed,
            t.human_when_open,
            t.human,
            t.human_unnotified,
            t.our_team,
            t.hours_title,
            t.hours_line,
            t.closed_day,
            t.help_intro,
            t.help_hours,
            t.help_human,
        ];
        raw.extend(t.weekdays);
        for template in TEMPLATES {
            let tt = t.template(template);
            raw.extend([tt.prices, tt.status, tt.help_prices, tt.help_status]);
        }
        raw.into_iter().map(|s| fill(s, &values)).collect()
    }

    #[test]
    fn fill_replaces_known_placeholders_once_and_keeps_the_rest() {
        let cases = [
            ("on {day} at {time}.", "on Monday at 09:00."),
            ("{business}", "{day} & Co"),
            ("{unknown} {day}", "{unknown} Monday"),
            ("a { b } {", "a { b } {"),
            ("no placeholders", "no placeholders"),
            ("{day}{day}", "MondayMonday"),
        ];
        let values = [
            ("day", "Monday"),
            ("time", "09:00"),
            ("business", "{day} & Co"),
        ];
        for (template, want) in cases {
            assert_eq!(fill(template, &values), want, "{template:?}");
        }
    }

    #[test]
    fn every_placeholder_in_every_language_is_a_known_one() {
        for lang in Language::ALL {
            for text in all_filled(texts(lang)) {
                assert!(
                    !text.contains('{') && !text.contains('}'),
                    "{lang:?}: {text}"
                );
                assert!(!text.trim().is_empty(), "{lang:?} has an empty text");
                assert!(!text.contains("  "), "{lang:?} double space: {text}");
            }
        }
    }

    #[test]
    fn no_language_copies_another_languages_sentences() {
        for (i, a) in Language::ALL.iter().enumerate() {
            for b in &Language::ALL[i + 1..] {
                let (ta, tb) = (all_filled(texts(*a)), all_filled(texts(*b)));
                for (x, y) in ta.iter().zip(&tb) {
                    // Times and the hours line format may coincide; sentences may not.
                    if x.split_whitespace().count() > 2 {
                        assert_ne!(x, y, "{a:?} and {b:?} share a sentence");
                    }
                }
            }
        }
    }
}
