//! The webhook pages' markup, shared by the portal (`/portal/webhooks…`,
//! the owner's) and the admin console (`/admin/tenants/{id}/webhooks…`):
//! the endpoints with their health, the form to add one (the signing
//! secret is shown once, in the answer), and one endpoint's page:
//! enable/disable, rotate the secret, send a test event, delete, and its
//! delivery log with "Send again" per event. The pages' shells are the
//! callers'; the URLs come in as `WebhookUrls`.
//! Must not: keep or show a secret anywhere but that one answer.

use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::webhooks::events::EventType;
use crate::services::webhooks::{AttemptItem, Endpoint};
use crate::urls::WebhookUrls;
use crate::views::components::{self, Field};

/// The list page.
pub struct ListPage<'a> {
    pub endpoints: &'a [Endpoint],
    /// The form as typed, and its errors.
    pub url: &'a str,
    pub events: &'a [EventType],
    pub errors: &'a FieldErrors,
    /// An endpoint just made (or a secret just rotated), with its secret.
    pub secret: Option<(&'a Endpoint, &'a str)>,
}

fn secret_card(endpoint: &Endpoint, secret: &str) -> Markup {
    html! {
        section.card role="status" {
            h2 { "Signing secret for " (endpoint.url) }
            p { strong { "Copy it now: it will not be shown again." } }
            pre.code { code #webhook-secret { (secret) } }
            p.muted {
                "Verify each request's webhook-signature header with it (Standard Webhooks); "
                "the README shows how in a few lines."
            }
        }
    }
}

fn health(endpoint: &Endpoint) -> Markup {
    html! {
        @if let Some(reason) = &endpoint.disabled_reason {
            (components::badge_labeled("ERROR", "disabled")) " " span.muted { (reason) }
        } @else if !endpoint.enabled {
            (components::badge_labeled("STOPPED", "off"))
        } @else if endpoint.failing_since.is_some() {
            (components::badge_labeled("ERROR", "failing"))
        } @else {
            (components::badge_labeled("RUNNING", "on"))
        }
    }
}

/// The list page's content; its form carries `csrf_token`.
pub fn list(urls: WebhookUrls, csrf_token: &str, page: &ListPage<'_>) -> Markup {
    html! {
            div.page-header { h1 { "Webhooks" } }
            @if let Some((endpoint, secret)) = page.secret {
                (secret_card(endpoint, secret))
            }
            section.card {
                h2 { "Endpoints" }
                @if page.endpoints.is_empty() {
                    p.muted { "None yet: add one below and your systems hear of new messages, replies and chats that need a person." }
                } @else {
                    div.table-wrap {
                        table.table #webhook-endpoints {
                            thead { tr {
                                th scope="col" { "URL" }
                                th scope="col" { "Events" }
                                th scope="col" { "State" }
                            } }
                            tbody {
                                @for endpoint in page.endpoints {
                                    tr {
                                        td { a href=(urls.endpoint(endpoint.id)) { (endpoint.url) } }
                                        td { (endpoint.events.join(", ")) }
                                        td { (health(endpoint)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Add an endpoint" }
                form.stack method="post" action=(urls.list()) {
                    (components::csrf_input(csrf_token))
                    (Field {
                        name: "url",
                        label: "URL",
                        value: page.url,
                        hint: Some("https:// on the public internet; we POST signed JSON to it"),
                        errors: page.errors,
                    }.input("url", true))
                    fieldset {
                        legend { "Events" }
                        @if let Some(error) = page.errors.get("events") {
                            p.field-error { (error) }
                        }
                        @for event in EventType::ALL {
                            label.checkbox {
                                input type="checkbox" name=(format!("event:{}", event.as_str()))
                                    checked[page.events.contains(&event)];
                                " " code { (event.as_str()) } " — " (event.describe())
                            }
                        }
                    }
                    button.primary type="submit" { "Add endpoint" }
                }
            }
    }
}

/// One endpoint's page.
pub struct EndpointPage<'a> {
    pub endpoint: &'a Endpoint,
    pub attempts: &'a [AttemptItem],
    pub secret: Option<&'a str>,
}

/// One endpoint's content; its buttons carry `csrf_token`.
pub fn show(urls: WebhookUrls, csrf_token: &str, page: &EndpointPage<'_>) -> Markup {
    let endpoint = page.endpoint;
    let id = endpoint.id;
    html! {
            div.page-header {
                h1 { "Webhook" }
                a href=(urls.list()) { "All endpoints" }
            }
            @if let Some(secret) = page.secret {
                (secret_card(endpoint, secret))
            }
            section.card {
                h2 { (endpoint.url) }
                p { (health(endpoint)) }
                p { "Events: " (endpoint.events.join(", ")) }
                @if let Some(until) = &endpoint.previous_secret_expires_at {
                    p.muted { "The previous secret also signs until " (components::datetime(until)) "." }
                }
                div.actions {
                    (components::action_button(&urls.action(id, "test"),
                        csrf_token, "Send a test event", "small"))
                    (components::action_button(&urls.action(id, "toggle"),
                        csrf_token, if endpoint.enabled { "Disable" } else { "Enable" }, "small"))
                    (components::action_button(&urls.action(id, "rotate"),
                        csrf_token, "Rotate secret", "small"))
                    (components::action_button(&urls.action(id, "delete"),
                        csrf_token, "Delete", "danger small"))
                }
            }
            section.card {
                h2 { "Delivery log" }
                @if page.attempts.is_empty() {
                    p.muted { "No delivery yet." }
                } @else {
                    div.table-wrap {
                        table.table #webhook-attempts {
                            thead { tr {
                                th scope="col" { "When" }
                                th scope="col" { "Event" }
                                th scope="col" { "Answer" }
                                th scope="col" { "Took" }
                                th scope="col" { "Event state" }
                                th scope="col" { span.sr-only { "Actions" } }
                            } }
                            tbody {
                                @for attempt in page.attempts {
                                    tr data-event-id=(attempt.event_id) {
                                        td.nowrap { (components::datetime(&attempt.attempted_at)) }
                                        td { code { (attempt.event_type) } br; span.muted { (attempt.event_id) " #" (attempt.attempt) } }
                                        td {
                                            @match attempt.status_code {
                                                Some(code) => strong.status-code { (code) },
                                                None => span.muted { "no answer" },
                                            }
                                            @if let Some(error) = &attempt.error { br; span.muted { (error) } }
                                            @if let Some(response) = &attempt.response { br; code.response { (response) } }
                                        }
                                        td.nowrap { (attempt.duration_ms) " ms" }
                                        td { (components::badge(&attempt.event_status)) }
                                        td.right {
                                            (components::action_button(
                                                &urls.resend(id, attempt.event),
                                                csrf_token, "Send again", "small"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
    }
}
