//! `/portal/onboarding`: the setup request form (business, WhatsApp number,
//! template, language, time zone, hours, notes), or, while a request waits
//! for review, a page saying so instead of a form. After a rejection the
//! form comes back with the reviewer's note, filled with the rejected request.
//!
//! Owns: `RequestFormValues`, the strings the form shows (as typed when
//! refused). Must not: parse or validate; the handler does.

use maud::{Markup, html};

use super::days_of_json;
use crate::error::FieldErrors;
use crate::services::portal::{OwnSetupRequest, TenantSettings};
use crate::services::tenants::{DEFAULT_TIMEZONE, template_name};
use crate::urls::PortalUrl;
use crate::views::assets;
use crate::views::components::{self, DayValues, Field, Zone};
use crate::views::layout::{self, PortalChrome};

/// What the setup request form shows.
#[derive(Debug, Clone, Default)]
pub struct RequestFormValues {
    pub template_type: String,
    pub business_name: String,
    pub whatsapp_number: String,
    pub language: String,
    pub timezone: String,
    /// Monday first.
    pub hours: [DayValues; 7],
    pub notes: String,
    /// A first request whose time zone is still the sign-up default: the
    /// browser's own zone may replace it (one the owner or an admin chose
    /// stays).
    pub new_form: bool,
}

impl RequestFormValues {
    /// A first request starts from the tenant's current settings (the
    /// defaults it got at sign-up). Sign-up names the business after the
    /// owner (`owner_name`, from Google) for want of better: while it still
    /// is, the field starts empty so the owner types the business's name.
    pub fn first_request(settings: &TenantSettings, owner_name: &str) -> Self {
        let business_name = if settings.business_name.trim() == owner_name.trim() {
            String::new()
        } else {
            settings.business_name.clone()
        };
        Self {
            template_type: template_name(settings.template_type).to_owned(),
            business_name,
            whatsapp_number: settings.phone_number.clone().unwrap_or_default(),
            language: settings.language.clone(),
            timezone: settings.timezone.clone(),
            hours: days_of_json(&settings.hours),
            notes: String::new(),
            new_form: settings.timezone == DEFAULT_TIMEZONE,
        }
    }

    /// A resubmission starts from the rejected request.
    pub fn from_request(request: &OwnSetupRequest) -> Self {
        Self {
            template_type: template_name(request.template_type).to_owned(),
            business_name: request.business_name.clone(),
            whatsapp_number: request.whatsapp_number.clone(),
            language: request.language.clone(),
            timezone: request.timezone.clone(),
            hours: days_of_json(&request.hours),
            notes: request.notes.clone().unwrap_or_default(),
            new_form: false,
        }
    }

    /// What was typed into a submitted form.
    pub fn from_form(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |key: &str| get(key).unwrap_or_default();
        Self {
            template_type: text("template_type"),
            business_name: text("business_name"),
            whatsapp_number: text("whatsapp_number"),
            language: text("language"),
            timezone: text("timezone"),
            hours: components::days_from_form(&get),
            notes: text("notes"),
            new_form: false,
        }
    }
}

/// What the onboarding page shows.
pub enum Onboarding<'a> {
    /// No request yet, or the last one was rejected (then `rejected` is it).
    Form {
        values: &'a RequestFormValues,
        errors: &'a FieldErrors,
        rejected: Option<&'a OwnSetupRequest>,
    },
    /// A request waits for review: nothing to fill in.
    Waiting(&'a OwnSetupRequest),
    /// The request was approved: the status page takes over.
    Approved(&'a OwnSetupRequest),
}

pub fn page(chrome: &PortalChrome<'_>, onboarding: &Onboarding<'_>) -> Markup {
    layout::portal_page_with_scripts(
        "Set up your bot",
        chrome,
        &assets::zone_scripts(),
        html! {
            div.page-header { h1 { "Set up your WhatsApp bot" } }
            @match onboarding {
                Onboarding::Form { values, errors, rejected } => {
                    @if let Some(rejected) = rejected {
                        (rejection(rejected))
                    } @else {
                        p.lead {
                            "Tell us about your business. The Flow HQ team reviews your request; "
                            "once it is approved you link your WhatsApp number by scanning a QR code."
                        }
                    }
                    section.card {
                        (form(chrome.csrf_token, values, errors, rejected.is_some()))
                    }
                }
                Onboarding::Waiting(request) => {
                    section.card #request-waiting {
                        @let zone = Zone::named(&request.timezone);
                        h2 { "Your request is waiting for review" }
                        p {
                            "You sent it on " (zone.datetime(&request.created_at))
                            " (" (zone.name()) "). "
                            "The Flow HQ team will approve it or tell you what to change; "
                            "you can send another request only after that."
                        }
                        (summary(request))
                        p { a.button.primary href=(PortalUrl::Status) { "See your status" } }
                    }
                }
                Onboarding::Approved(request) => {
                    section.card {
                        h2 { "Your request was approved" }
                        (summary(request))
                        p { a.button.primary href=(PortalUrl::Status) { "See your bot's status" } }
                    }
                }
            }
        },
    )
}

/// The reviewer's note on a rejected request, above the form to send it again.
fn rejection(request: &OwnSetupRequest) -> Markup {
    html! {
        section.card #request-rejected {
            h2 { "Your last request was not approved" }
            @if let Some(note) = &request.review_note {
                p { "The Flow HQ team wrote:" }
                blockquote.review-note { (note) }
            }
            p.muted { "Change what the note asks for below and send the request again." }
        }
    }
}

/// What a request asked for, as a property list.
fn summary(request: &OwnSetupRequest) -> Markup {
    html! {
        dl.props {
            dt { "Business" } dd { (request.business_name) }
            dt { "WhatsApp number" } dd { (request.whatsapp_number) }
            dt { "Template" } dd { (components::template_label(request.template_type)) }
            dt { "Language" } dd { (components::language_label(&request.language)) }
            dt { "Time zone" } dd { (request.timezone) }
            @if let Some(notes) = &request.notes {
                dt { "Notes" } dd { (notes) }
            }
        }
    }
}

fn form(csrf: &str, values: &RequestFormValues, errors: &FieldErrors, again: bool) -> Markup {
    let templates = components::template_options();
    let languages = components::language_options();
    html! {
        form.stack method="post" action=(PortalUrl::Onboarding) {
            (components::csrf_input(csrf))
            fieldset {
                legend { "Your business" }
                div.field-row {
                    (Field { name: "business_name", label: "Business name",
                             value: &values.business_name,
                             hint: Some("How the bot names your business to customers"),
                             errors }.input("text", true))
                    (Field { name: "whatsapp_number", label: "WhatsApp number",
                             value: &values.whatsapp_number,
                             hint: Some("The number customers write to, international format: +4915112345678"),
                             errors }.input("tel", true))
                }
            }
            fieldset {
                legend { "Bot" }
                div.field-row.mb {
                    (Field { name: "template_type", label: "Template", value: &values.template_type,
                             hint: Some("Which replies the bot answers with"),
                             errors }.select(&templates))
                    (Field { name: "language", label: "Language", value: &values.language,
                             hint: Some("The language the bot replies in"),
                             errors }.select(&languages))
                }
                div.field-row {
                    (Field { name: "timezone", label: "Time zone", value: &values.timezone,
                             hint: Some("Your business hours are in it. Type a city or region and pick its zone, e.g. Europe/Berlin"),
                             errors }.timezone(values.new_form))
                }
            }
            (components::hours_grid(&values.hours, errors.get("hours")))
            (Field { name: "notes", label: "Notes for the Flow HQ team", value: &values.notes,
                     hint: Some("Optional: anything the reviewer should know"),
                     errors }.textarea(3))
            div.form-actions {
                button.primary type="submit" {
                    @if again { "Send the request again" } @else { "Send setup request" }
                }
            }
        }
    }
}
