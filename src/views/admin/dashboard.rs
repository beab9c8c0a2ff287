//! The console's start page (`/admin`): how many tenants are in each status
//! (each count links to the filtered list), the setup requests waiting for a
//! decision, the tenants in ERROR, and, while Google sign-in is not
//! configured, how to configure it. Must not: query anything; the handler
//! hands over `tenants::Dashboard`.

use maud::{Markup, html};

use crate::domain::lifecycle::status_name;
use crate::services::tenants::Dashboard;
use crate::urls::AdminUrl;
use crate::views::admin::tenants::summary_table;
use crate::views::components;
use crate::views::layout::{self, AdminChrome};

/// How to turn Google sign-in on, shown while it is off.
pub struct GoogleSetup {
    /// The redirect URL to register with Google (`<public_url>/auth/google/callback`).
    pub redirect_url: String,
}

pub fn page(
    chrome: &AdminChrome<'_>,
    dashboard: &Dashboard,
    usage: &[crate::services::usage::TenantUsage],
    google_setup: Option<&GoogleSetup>,
) -> Markup {
    layout::admin_page(
        "Dashboard",
        chrome,
        html! {
            div.page-header {
                h1 { "Dashboard" }
                a.button.primary href=(AdminUrl::NewTenant) { "New tenant" }
            }
            @if let Some(setup) = google_setup { (google_card(setup)) }
            div.grid {
                (stat(AdminUrl::Tenants, dashboard.total, html! { "Tenants in all" }))
                (stat(
                    AdminUrl::WaitingSetupRequests,
                    dashboard.waiting_setup_requests,
                    html! { "Setup requests waiting for review" },
                ))
            }
            h2 { "Tenants by status" }
            div.grid {
                @for (status, count) in &dashboard.by_status {
                    (stat(
                        AdminUrl::TenantsWithStatus(*status),
                        *count,
                        components::badge(status_name(*status)),
                    ))
                }
            }
            section.card #usage {
                h2 { "Usage this month, busiest first" }
                @if usage.is_empty() {
                    p.muted { "No tenant yet." }
                } @else {
                    table {
                        thead { tr { th { "Tenant" } th { "Plan" } th { "Messages sent" } th { "Received" } th { "AI tokens" } } }
                        tbody {
                            @for row in usage.iter().take(20) {
                                tr {
                                    td { a href=(AdminUrl::Tenant(row.tenant_id)) { (row.name) } }
                                    td { (row.plan) }
                                    td {
                                        (row.messages_used)
                                        @if let Some(limit) = row.messages_limit { " of " (limit) }
                                        @if row.quota_reached { " " (components::badge("quota_reached")) }
                                    }
                                    td { (row.inbound) }
                                    td { (row.ai_tokens) }
                                }
                            }
                        }
                    }
                    @if usage.len() > 20 {
                        p.muted { "The 20 busiest of " (usage.len()) "; all of them: GET /api/admin/usage." }
                    }
                }
            }
            section.card {
                h2 { "Tenants in ERROR" }
                @if dashboard.errored.is_empty() {
                    p.muted { "No tenant is in ERROR." }
                } @else {
                    (summary_table(&dashboard.errored))
                    p { a href=(AdminUrl::TenantsWithStatus(entity::enums::TenantStatus::Error)) {
                        "All tenants in ERROR"
                    } }
                }
            }
        },
    )
}

/// Tenant owners sign in with Google only: until it is configured, nobody
/// can use the portal. Says what to set, with this instance's redirect URL.
fn google_card(setup: &GoogleSetup) -> Markup {
    html! {
        section.card #google-setup {
            h2 { "Google sign-in is not configured" }
            p {
                "Tenant owners sign in to the portal with Google, so until it is configured "
                "nobody can sign up or sign in there. Create an OAuth client (type “Web "
                "application”) in the Google Cloud console, register this redirect URL with it:"
            }
            pre.code { code { (setup.redirect_url) } }
            p { "then start Flow HQ with its credentials:" }
            pre.code { code {
                "FLOWHQ__GOOGLE__CLIENT_ID=…apps.googleusercontent.com\n"
                "FLOWHQ__GOOGLE__CLIENT_SECRET=…"
            } }
            p.muted {
                "The redirect URL is " code { "<public_url>/auth/google/callback" } "; set "
                code { "FLOWHQ__SERVER__PUBLIC_URL" } " to the address users reach Flow HQ at "
                "(or " code { "FLOWHQ__GOOGLE__REDIRECT_URL" } " to another URL). "
                "See the [google] section of config/default.toml."
            }
        }
    }
}

/// A count linking to the list it counts. (`.stat` sits inside the link:
/// `a.card` would override its column layout.)
fn stat(href: AdminUrl, value: u64, label: Markup) -> Markup {
    html! {
        a.card href=(href) {
            div.stat {
                span.value { (value) }
                span.label { (label) }
            }
        }
    }
}
