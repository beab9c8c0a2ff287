//! The audit page (`/admin/audit`) and the audit table it shares with the
//! tenant detail page. Owns: how an audit entry is shown (time, actor,
//! event, tenant link, payload as compact JSON). Must not: decide which
//! entries are shown; the handler pages and filters.

use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::Page;
use crate::services::audit::AuditEntry;
use crate::urls::{AdminUrl, query_string};
use crate::views::components::{self, Field};
use crate::views::layout::{self, AdminChrome};

/// The audit page: a tenant filter, then the entries (`None` when the filter
/// itself was refused, with its message in `errors["tenant_id"]`).
pub fn page(
    chrome: &AdminChrome<'_>,
    entries: Option<&Page<AuditEntry>>,
    tenant_id: &str,
    errors: &FieldErrors,
) -> Markup {
    let base_query = query_string(&[("tenant_id", tenant_id)]);
    layout::admin_page(
        "Audit",
        chrome,
        html! {
            div.page-header { h1 { "Audit trail" } }
            form.toolbar method="get" action=(AdminUrl::Audit) role="search" {
                (Field {
                    name: "tenant_id",
                    label: "Tenant id",
                    value: tenant_id,
                    hint: None,
                    errors,
                }.input("text", false))
                button.secondary type="submit" { "Filter" }
                @if !tenant_id.is_empty() { a href=(AdminUrl::Audit) { "Show all" } }
            }
            @if let Some(entries) = entries {
                @if entries.items.is_empty() {
                    (components::empty(
                        "No audit entries",
                        "Every change an admin or a tenant owner makes is recorded here.",
                        None,
                    ))
                } @else {
                    (table(&entries.items, true))
                    (components::pagination(entries, &AdminUrl::Audit.to_string(), &base_query))
                }
            }
        },
    )
}

/// The entries, newest first as given. `with_tenant` adds the tenant column
/// (left out on a tenant's own page).
pub fn table(entries: &[AuditEntry], with_tenant: bool) -> Markup {
    html! {
        div.table-wrap {
            table.table {
                thead { tr {
                    th scope="col" { "Time" }
                    th scope="col" { "Actor" }
                    th scope="col" { "Event" }
                    @if with_tenant { th scope="col" { "Tenant" } }
                    th scope="col" { "Details" }
                } }
                tbody {
                    @for entry in entries {
                        tr {
                            td.nowrap { (components::datetime(&entry.created_at)) }
                            td { (entry.actor) }
                            td { code { (entry.event_type) } }
                            @if with_tenant {
                                td.nowrap {
                                    @if let Some(id) = entry.tenant_id {
                                        @let full = id.to_string();
                                        a href=(AdminUrl::Tenant(id)) title=(full) {
                                            (full.get(..8).unwrap_or(&full)) "…"
                                        }
                                    } @else {
                                        span.muted { "—" }
                                    }
                                }
                            }
                            td { code { (compact_json(&entry.payload)) } }
                        }
                    }
                }
            }
        }
    }
}

fn compact_json(payload: &serde_json::Value) -> String {
    // Serializing a `Value` cannot fail; an empty cell would be the fallback.
    serde_json::to_string(payload).unwrap_or_default()
}
