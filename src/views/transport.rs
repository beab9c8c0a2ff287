//! How a tenant's bot reaches WhatsApp, as the admin console (tenant page,
//! "Transport" card) and the portal (settings, "WhatsApp connection") both
//! show and edit it, and the pairing code that replaces the QR code when
//! WhatsApp Web links by phone number.
//!
//! Owns: the words for each transport, the ONE transport form (the caller
//! names where it posts), the "link with phone number" form, the Cloud API
//! set-up guide with the webhook URL, and the pairing-code block of both QR
//! panels (element ids `qr-pairing`, `pairing-code`, `qr-how-scan`,
//! `qr-how-pair`, which `static/live.js` updates).
//! Must not: show a secret. Secret inputs are always empty; a stored token
//! shows as its hint (`…abcd`) only.

use entity::enums::TransportKind;
use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::transports::TransportView;
use crate::views::components::{self, Field};

/// The transports in the order the form offers them, with one sentence an
/// owner can choose by. The form's value is the JSON API's `kind`
/// (`enum_name`).
const KINDS: [(TransportKind, &str); 3] = [
    (
        TransportKind::Sandbox,
        "A simulated WhatsApp inside Flow HQ for trying the bot out: real customers cannot reach it.",
    ),
    (
        TransportKind::WhatsappWeb,
        "The bot becomes a linked device of the business's own WhatsApp app, like WhatsApp Web: \
         link it with a QR code or a pairing code. Unofficial: WhatsApp may block numbers that use it.",
    ),
    (
        TransportKind::CloudApi,
        "Meta's official WhatsApp Business Platform: needs a Meta app with a WhatsApp number \
         and the details below.",
    ),
];

/// The transport in words (the same in the console and the portal).
pub fn label(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Sandbox => "Sandbox (test mode)",
        TransportKind::WhatsappWeb => "WhatsApp Web linked device",
        TransportKind::CloudApi => "WhatsApp Cloud API",
    }
}

/// What the transport form shows that is not a secret: the stored values,
/// or what was typed into a refused form. Secrets are never sent back.
#[derive(Debug, Clone, Default)]
pub struct TransportFormValues {
    pub kind: String,
    pub phone_number_id: String,
}

impl TransportFormValues {
    pub fn from_view(view: &TransportView) -> Self {
        Self {
            kind: components::enum_name(&view.kind),
            phone_number_id: view.phone_number_id.clone().unwrap_or_default(),
        }
    }

    pub fn from_form(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            kind: get("kind").unwrap_or_default(),
            phone_number_id: get("phone_number_id").unwrap_or_default(),
        }
    }
}

/// A refused transport or pairing form: what was typed and why.
#[derive(Debug, Clone, Default)]
pub struct TransportForms {
    /// `None`: the form shows the stored values.
    pub transport: Option<TransportFormValues>,
    pub transport_errors: FieldErrors,
    /// The number typed into the "link with phone number" form.
    pub pairing_phone: String,
    pub pairing_errors: FieldErrors,
}

/// Everything the transport card needs.
pub struct TransportCard<'a> {
    pub csrf: &'a str,
    pub view: &'a TransportView,
    /// Stored Cloud API credentials exist but cannot be decrypted (the
    /// master key changed): they must all be entered again.
    pub unreadable: bool,
    /// Where Meta delivers this tenant's messages.
    pub webhook_url: &'a str,
    /// Where the transport form and the pairing form post.
    pub action: &'a str,
    pub pairing_action: &'a str,
    pub forms: &'a TransportForms,
}

/// The card's body (the caller adds the section and its heading): the
/// transport in words, the form to change it, and for WhatsApp Web the
/// choice between QR code and pairing code.
pub fn card_body(card: &TransportCard<'_>) -> Markup {
    html! {
        (summary(card))
        @if card.unreadable {
            p.callout.callout-error #transport-unreadable {
                "The stored Cloud API details cannot be read any more (was the master key "
                "changed?). Enter all of them again."
            }
        }
        @if card.view.kind == TransportKind::WhatsappWeb {
            (pairing(card))
        }
        (form(card))
    }
}

/// The transport and its facts, never a secret.
fn summary(card: &TransportCard<'_>) -> Markup {
    let view = card.view;
    html! {
        dl.props #transport-summary {
            dt { "Connected through" }
            dd #transport-kind { strong { (label(view.kind)) } }
            @match view.kind {
                TransportKind::CloudApi => {
                    dt { "Phone number ID" }
                    dd { @match &view.phone_number_id {
                        Some(id) => code { (id) },
                        None => span.muted { "not entered yet" },
                    } }
                    dt { "Access token" }
                    dd { @match &view.access_token_hint {
                        Some(hint) => { code #token-hint { (hint) } " " span.muted { "(stored, encrypted)" } },
                        None => span.muted { "not entered yet" },
                    } }
                    dt { "Webhook URL" }
                    dd { code.copyable #webhook-url { (card.webhook_url) } }
                }
                TransportKind::WhatsappWeb => {
                    dt { "Links with" }
                    dd { @match &view.pairing_phone {
                        Some(phone) => { "a pairing code typed on " (phone) },
                        None => "a QR code scanned with the business phone",
                    } }
                }
                TransportKind::Sandbox => {
                    dt { "Customers" }
                    dd { "simulated: play one in the sandbox chat" }
                }
            }
        }
    }
}

/// WhatsApp Web links by QR code unless a phone number is given: then the
/// bot asks WhatsApp for an 8-character code to type on that phone.
fn pairing(card: &TransportCard<'_>) -> Markup {
    let pairing_phone = card.view.pairing_phone.as_deref();
    let typed = if card.forms.pairing_phone.is_empty() {
        pairing_phone.unwrap_or_default()
    } else {
        card.forms.pairing_phone.as_str()
    };
    html! {
        div.subsection #pairing {
            h3 { "Link with phone number" }
            p.muted {
                "Instead of scanning a QR code, WhatsApp can show a code to type on the business "
                "phone: useful when the phone is the only screen at hand. Saving restarts a "
                "running bot, which then shows the code."
            }
            form.stack method="post" action=(card.pairing_action) {
                (components::csrf_input(card.csrf))
                (Field { name: "phone", label: "Business phone number", value: typed,
                         hint: Some("The WhatsApp number of the phone to link, international format: +4915112345678"),
                         errors: &card.forms.pairing_errors }.input("tel", true))
                button.secondary type="submit" { "Link with phone number" }
            }
            @if let Some(phone) = pairing_phone {
                form.inline method="post" action=(card.pairing_action) {
                    (components::csrf_input(card.csrf))
                    input type="hidden" name="use_qr" value="1";
                    span.muted { "Linking by code on " (phone) ". " }
                    button.link type="submit" { "Use a QR code instead" }
                }
            }
        }
    }
}

/// The transport choice and the Cloud API details. The Cloud API fields
/// are always in the page (without script); `app.css` hides them unless
/// the Cloud API is chosen.
fn form(card: &TransportCard<'_>) -> Markup {
    let stored_values;
    let values = match &card.forms.transport {
        Some(values) => values,
        None => {
            stored_values = TransportFormValues::from_view(card.view);
            &stored_values
        }
    };
    let errors = &card.forms.transport_errors;
    let stored = card.view.credentials_stored && !card.unreadable;
    let kind_error = errors.get("kind");
    html! {
        form.stack.transport-form method="post" action=(card.action) {
            (components::csrf_input(card.csrf))
            fieldset.kinds aria-describedby=[kind_error.map(|_| "kind-error")] {
                legend { "Change how the bot connects" }
                @for (kind, description) in KINDS {
                    @let value = components::enum_name(&kind);
                    @let id = format!("kind-{value}");
                    label.option for=(id) {
                        input id=(id) type="radio" name="kind" value=(value)
                            checked[values.kind == value];
                        span {
                            strong { (label(kind)) }
                            span.hint { (description) }
                        }
                    }
                }
                @if let Some(error) = kind_error {
                    p.error-text #kind-error { (error) }
                }
            }
            fieldset.cloud-fields {
                legend { "WhatsApp Cloud API details" }
                (meta_guide(card.webhook_url))
                div.field-row.mb {
                    (Field { name: "phone_number_id", label: "Phone number ID",
                             value: &values.phone_number_id,
                             hint: Some("Meta: WhatsApp → API Setup, under the number (digits only)"),
                             errors }.input("text", false))
                    (Field { name: "access_token", label: "Access token",
                             value: "", hint: Some("A permanent token of a System User"),
                             errors }.secret(stored))
                }
                div.field-row {
                    (Field { name: "app_secret", label: "App secret", value: "",
                             hint: Some("Meta: App settings → Basic → App secret"),
                             errors }.secret(stored))
                    (Field { name: "verify_token", label: "Verify token", value: "",
                             hint: Some("Any phrase you choose; enter the same one at Meta"),
                             errors }.secret(stored))
                }
                @if !errors.is_empty() {
                    p.muted.mt { "Secrets you typed are not shown again: type them once more." }
                }
            }
            p.muted.form-note {
                "Saving restarts a running bot so the change applies at once. Choosing another "
                "transport also ends the current WhatsApp link: the bot links afresh."
            }
            div.form-actions {
                button.primary type="submit" { "Save transport" }
            }
        }
    }
}

/// Which Meta setting goes where, with the tenant's webhook URL.
fn meta_guide(webhook_url: &str) -> Markup {
    html! {
        details.guide open {
            summary { "Where these come from at Meta (developers.facebook.com)" }
            ol {
                li {
                    "Save the details here first. Then in your app: " strong { "WhatsApp → Configuration" }
                    " → Webhook → Edit: " em { "Callback URL" } " = "
                    code.copyable { (webhook_url) }
                    ", " em { "Verify token" } " = the verify token entered here. Verify and save."
                }
                li { "Under Webhook fields, subscribe to " code { "messages" } "." }
                li { em { "Phone number ID" } ": WhatsApp → API Setup (not the phone number itself)." }
                li { em { "App secret" } ": App settings → Basic → App secret → Show." }
                li {
                    em { "Access token" } ": Business settings → Users → System users → Generate new token "
                    "(permissions whatsapp_business_messaging and whatsapp_business_management). "
                    "The temporary token on API Setup stops working after 24 hours."
                }
            }
        }
    }
}

/// `ABCD-EFGH`: the pairing code as WhatsApp's phone screen groups it.
pub fn grouped(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() == 8 {
        let (head, tail) = chars.split_at(4);
        format!(
            "{}-{}",
            head.iter().collect::<String>(),
            tail.iter().collect::<String>()
        )
    } else {
        code.to_owned()
    }
}

/// The pairing code (big, to type on the phone) and the instructions for
/// the code or the QR code, whichever is shown: the inside of both QR
/// panels, around the panel's own `qr-img`.
pub fn pairing_block(code: Option<&str>) -> Markup {
    html! {
        div.pairing #qr-pairing hidden[code.is_none()] {
            p.pairing-code #pairing-code aria-label="Pairing code" {
                (code.map(grouped).unwrap_or_default())
            }
        }
    }
}

/// How to use what the panel shows; `scan_tail` ends the QR sentence (the
/// portal adds "then scan this code").
pub fn how_to(pairing: bool, scan_text: &str) -> Markup {
    html! {
        p.muted #qr-how-scan hidden[pairing] { (scan_text) }
        p.muted #qr-how-pair hidden[!pairing] {
            "On the business phone: WhatsApp → Linked devices → Link a device → "
            strong { "Link with phone number instead" } ", then type this code."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_codes_are_grouped_like_the_phone_shows_them() {
        assert_eq!(grouped("ABCD2345"), "ABCD-2345");
        assert_eq!(grouped("odd"), "odd");
    }
}
