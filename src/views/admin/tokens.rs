//! API tokens (`/admin/tokens`): the list with revoke buttons, the create
//! form, and — once, right after creation — the new token's secret.
//! Must not: keep or log the secret; it is only in the page of that response.

use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::admins::ApiToken;
use crate::urls::AdminUrl;
use crate::views::components::{self, Field};
use crate::views::layout::{self, AdminChrome};

/// Everything the tokens page shows.
pub struct TokensPage<'a> {
    pub tokens: &'a [ApiToken],
    /// The create form's name field as typed, and its error.
    pub name: &'a str,
    pub errors: &'a FieldErrors,
    /// A token just created and its secret, shown this once.
    pub created: Option<(&'a ApiToken, &'a str)>,
}

pub fn page(chrome: &AdminChrome<'_>, page: &TokensPage<'_>) -> Markup {
    layout::admin_page(
        "API tokens",
        chrome,
        html! {
            div.page-header { h1 { "API tokens" } }
            @if let Some((token, secret)) = page.created {
                section.card role="status" {
                    h2 { "Token " (token.name) " created" }
                    p { strong { "Copy it now, it will not be shown again." } }
                    pre.code { code { (secret) } }
                    p.muted {
                        "Send it as " code { "Authorization: Bearer …" }
                        " to the " code { "/api/admin" } " endpoints."
                    }
                }
            }
            section.card {
                h2 { "New token" }
                form.stack method="post" action=(AdminUrl::Tokens) {
                    (components::csrf_input(chrome.csrf_token))
                    (Field {
                        name: "name",
                        label: "Name",
                        value: page.name,
                        hint: Some("What will use it, e.g. \"deploy script\""),
                        errors: page.errors,
                    }.input("text", true))
                    button.primary type="submit" { "Create token" }
                }
            }
            @if page.tokens.is_empty() {
                (components::empty("No API tokens yet",
                    "Scripts can also use HTTP Basic with an admin's password, \
                     but a token can be revoked on its own.",
                    None))
            } @else {
                div.table-wrap {
                    table.table {
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Token" }
                            th scope="col" { "Created" }
                            th scope="col" { "Last used" }
                            th scope="col" { "Status" }
                            th scope="col" { span.sr-only { "Actions" } }
                        } }
                        tbody {
                            @for token in page.tokens {
                                tr {
                                    td { (token.name) }
                                    td.nowrap { code { (token.prefix) "…" } }
                                    td.nowrap { (components::datetime(&token.created_at)) }
                                    td.nowrap {
                                        @match &token.last_used_at {
                                            Some(at) => (components::datetime(at)),
                                            None => span.muted { "never" },
                                        }
                                    }
                                    td {
                                        @let state = match token.revoked_at {
                                            Some(_) => "REVOKED",
                                            None => "ACTIVE",
                                        };
                                        (components::badge(state))
                                    }
                                    td.right {
                                        @if token.revoked_at.is_none() {
                                            (components::action_button(
                                                &AdminUrl::TokenRevoke(token.id).to_string(),
                                                chrome.csrf_token, "Revoke", "danger small"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
