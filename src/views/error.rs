use actix_web::http::StatusCode;
use maud::{Markup, html};

use crate::error::ErrorBody;

use super::layout;

/// The HTML twin of the JSON error body: what happened, in words, and the
/// request id to quote to an admin.
pub fn page(status: StatusCode, body: &ErrorBody<'_>) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    layout::page(
        title,
        html! {
            section.card.error-card {
                p.eyebrow { (status.as_u16()) " · " (title) }
                h1 { (body.message) }
                @if !body.fields.is_empty() {
                    ul.field-errors {
                        @for (field, message) in body.fields {
                            li { strong { (field) } ": " (message) }
                        }
                    }
                }
                p.muted {
                    "Error code " code { (body.error) }
                    @if !body.request_id.is_empty() {
                        " · request id " code { (body.request_id) }
                    }
                }
                p { a.button href="/" { "Back to the start page" } }
            }
        },
    )
}
