//! Test data: phone numbers, tenant drafts and the forms that type them.

use serde_json::{Value, json};

/// A valid phone number, different for every `n`.
pub fn phone(n: u32) -> String {
    format!("+49151{n:08}")
}

/// A valid create request for the JSON API, different for every `n`.
pub fn tenant_draft(n: u32) -> Value {
    json!({
        "name": format!("Salon {n}"),
        "phone_number": phone(n),
        "template_type": "BOOKING",
        "business_name": format!("Salon {n} GmbH"),
        "language": "en",
        "timezone": "Europe/Berlin",
    })
}

/// A urlencoded form, in field order.
pub type Form = Vec<(String, String)>;

pub fn form(pairs: &[(&str, &str)]) -> Form {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The form with `key` set to `value` (replacing what it had).
pub fn with_field(form: Form, key: &str, value: &str) -> Form {
    let mut form = without_field(form, key);
    form.push((key.to_owned(), value.to_owned()));
    form
}

pub fn without_field(form: Form, key: &str) -> Form {
    form.into_iter().filter(|(k, _)| k != key).collect()
}

/// The create form's fields for a JSON draft: the same tenant typed into the
/// HTML form (hours as per-day fields; missing hours are the default week).
pub fn tenant_form(draft: &Value) -> Form {
    let mut fields = Form::new();
    for key in [
        "name",
        "phone_number",
        "template_type",
        "business_name",
        "language",
        "timezone",
    ] {
        if let Some(value) = draft[key].as_str() {
            fields.push((key.to_owned(), value.to_owned()));
        }
    }
    let default_week = json!({
        "mon": {"open": "09:00", "close": "18:00"}, "tue": {"open": "09:00", "close": "18:00"},
        "wed": {"open": "09:00", "close": "18:00"}, "thu": {"open": "09:00", "close": "18:00"},
        "fri": {"open": "09:00", "close": "18:00"}, "sat": null, "sun": null,
    });
    let hours = match &draft["hours"] {
        Value::Null => &default_week,
        hours => hours,
    };
    fields.extend(hours_form(hours));
    fields
}

/// Per-day form fields for an hours JSON value: a missing or null day is ticked closed.
pub fn hours_form(hours: &Value) -> Form {
    let mut fields = Form::new();
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        match &hours[day] {
            Value::Object(range) => {
                for end in ["open", "close"] {
                    let time = range[end].as_str().unwrap_or_default();
                    fields.push((format!("hours_{day}_{end}"), time.to_owned()));
                }
            }
            _ => fields.push((format!("hours_{day}_closed"), "on".to_owned())),
        }
    }
    fields
}
