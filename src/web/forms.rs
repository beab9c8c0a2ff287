//! Reading HTML forms (a flat map of strings) into the services' drafts, the
//! same way for the admin console and the portal: the hours grid becomes the
//! hours JSON, number fields become numbers, and what cannot be read becomes
//! a field error next to its field, merged with the service's own 422.

use crate::domain::hours::BusinessHours;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::web::auth::AnyForm;

/// The hours grid as the JSON the services parse. `None` when the form has
/// no hours fields at all (a create gets the default hours, an edit keeps
/// them); a grid that does not read puts its message under `hours`.
pub fn form_hours(form: &AnyForm, errors: &mut FieldErrors) -> Option<serde_json::Value> {
    if !form.keys().any(|key| key.starts_with("hours_")) {
        return None;
    }
    match BusinessHours::from_form(|key| form.get(key).cloned()) {
        Ok(hours) => Some(hours.to_json()),
        Err(message) => {
            errors.insert("hours".to_owned(), message);
            None
        }
    }
}

/// A number field: absent stays `None`, present must be a whole number.
pub fn whole_number(form: &AnyForm, key: &str, errors: &mut FieldErrors) -> Option<i64> {
    let raw = form.get(key)?;
    match raw.trim().parse::<i64>() {
        Ok(number) => Some(number),
        Err(_) => {
            errors.insert(key.to_owned(), "must be a whole number".to_owned());
            None
        }
    }
}

/// Adds the errors found while reading the form to those of the service's
/// parse, as one 422. (The form-level fields were left out of the draft, so
/// the parse never reports them itself.)
pub fn with_field_errors<T>(
    parsed: Result<T, AppError>,
    mut errors: FieldErrors,
) -> Result<T, AppError> {
    if errors.is_empty() {
        return parsed;
    }
    match parsed {
        Ok(_) => {}
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            errors.extend(err.fields().clone());
        }
        Err(err) => return Err(err),
    }
    Err(AppError::validation(errors))
}
