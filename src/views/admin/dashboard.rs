//! The console's start page (`/admin`): how many tenants are in each status
//! (each count links to the filtered list), the setup requests waiting for a
//! decision, and the tenants in ERROR. Must not: query anything; the handler
//! hands over `tenants::Dashboard`.

use maud::{Markup, html};

use crate::domain::lifecycle::status_name;
use crate::services::tenants::Dashboard;
use crate::views::admin::tenants::summary_table;
use crate::views::components;
use crate::views::layout::{self, AdminChrome};
use crate::web::urls::AdminUrl;

pub fn page(chrome: &AdminChrome<'_>, dashboard: &Dashboard) -> Markup {
    layout::admin_page(
        "Dashboard",
        chrome,
        html! {
            div.page-header {
                h1 { "Dashboard" }
                a.button.primary href=(AdminUrl::NewTenant) { "New tenant" }
            }
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
