//! `/portal/settings`: what the bot says and when (welcome message,
//! auto-reply, template, language, time zone, business hours). Saved, they
//! reach the running bot with its next message, no restart. Below them, how
//! the bot connects to WhatsApp (the transport card the admin console shows
//! too, `views::transport`); changing that restarts a running bot.
//!
//! Owns: `SettingsFormValues`, the strings the form shows (as typed when
//! refused). Must not: parse or validate; the handler does.

use maud::{Markup, html};

use super::days_of_json;
use crate::error::FieldErrors;
use crate::services::portal::TenantSettings;
use crate::services::tenants::template_name;
use crate::urls::PortalUrl;
use crate::views::components::{self, DayValues, Field};
use crate::views::layout::{self, PortalChrome};
use crate::views::transport::{self, TransportCard};

#[derive(Debug, Clone, Default)]
pub struct SettingsFormValues {
    pub welcome_message: String,
    pub auto_reply: bool,
    /// Hours a chat stays with a person without a person's message.
    pub human_idle_hours: String,
    pub template_type: String,
    pub language: String,
    pub timezone: String,
    /// Monday first.
    pub hours: [DayValues; 7],
}

impl SettingsFormValues {
    pub fn from_settings(settings: &TenantSettings) -> Self {
        Self {
            welcome_message: settings.welcome_message.clone(),
            auto_reply: settings.auto_reply,
            human_idle_hours: format_hours(settings.human_idle_timeout_minutes),
            template_type: template_name(settings.template_type).to_owned(),
            language: settings.language.clone(),
            timezone: settings.timezone.clone(),
            hours: days_of_json(&settings.hours),
        }
    }

    /// What was typed; a checkbox is ticked when it was sent at all.
    pub fn from_form(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |key: &str| get(key).unwrap_or_default();
        Self {
            welcome_message: text("welcome_message"),
            auto_reply: get("auto_reply").is_some(),
            human_idle_hours: text("human_idle_hours"),
            template_type: text("template_type"),
            language: text("language"),
            timezone: text("timezone"),
            hours: components::days_from_form(&get),
        }
    }
}

pub fn page(
    chrome: &PortalChrome<'_>,
    values: &SettingsFormValues,
    errors: &FieldErrors,
    connection: &TransportCard<'_>,
) -> Markup {
    let templates = components::template_options();
    let languages = components::language_options();
    layout::portal_page(
        "Settings",
        chrome,
        html! {
            div.page-header { h1 { "Settings" } }
            section.card aria-labelledby="replies-title" {
                h2 #replies-title { "Replies and hours" }
                p.muted { "Changes reach your running bot with its next message; it does not restart." }
                form.stack method="post" action=(PortalUrl::Settings) {
                    (components::csrf_input(chrome.csrf_token))
                    fieldset {
                        legend { "Replies" }
                        div.mb {
                            (Field { name: "welcome_message", label: "Welcome message",
                                     value: &values.welcome_message,
                                     hint: Some("What the bot answers to a greeting or a first message, at any hour. \
                                                Wording for the Bot page's \"Welcome\" answer replaces it in that language"),
                                     errors }.textarea(3))
                        }
                        div.field.mb {
                            label.check for="auto_reply" {
                                input #auto_reply type="checkbox" name="auto_reply" value="on"
                                    checked[values.auto_reply];
                                "Reply automatically"
                            }
                        }
                        div.mb {
                            (Field { name: "human_idle_hours", label: "Hand chats back to the bot after (hours)",
                                     value: &values.human_idle_hours,
                                     hint: Some("A chat a person took over goes back to the bot after this long \
                                                without a message from a person (0.1 to 720)"),
                                     errors }.input("text", true))
                        }
                        div.field-row {
                            (Field { name: "template_type", label: "Template", value: &values.template_type,
                                     hint: Some("Which replies the bot answers with"),
                                     errors }.select(&templates))
                            (Field { name: "language", label: "Language", value: &values.language,
                                     hint: Some("The language the bot replies in"),
                                     errors }.select(&languages))
                            (Field { name: "timezone", label: "Time zone", value: &values.timezone,
                                     hint: Some("Type a city or region and pick its zone, e.g. Europe/Berlin"),
                                     errors }.timezone(false))
                        }
                    }
                    (components::hours_grid(&values.hours, errors.get("hours")))
                    div.form-actions {
                        button.primary type="submit" { "Save settings" }
                        a.button.secondary href=(PortalUrl::Status) { "Cancel" }
                    }
                }
            }
            section.card #transport aria-labelledby="transport-title" {
                h2 #transport-title { "WhatsApp connection" }
                (transport::card_body(connection))
            }
        },
    )
}

/// Minutes as the hours the form shows: `12`, `1.5`.
fn format_hours(minutes: i32) -> String {
    if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{:.2}", f64::from(minutes) / 60.0)
            .trim_end_matches('0')
            .to_owned()
    }
}
