//! The setup-request queue (`/admin/setup-requests`): what each tenant asked
//! for, and for a request still SUBMITTED the two decisions: approve (an
//! optional note) and reject (a note is required, the tenant reads it).
//! Must not: decide anything; the forms post to the handler.

use entity::enums::SetupRequestStatus;
use maud::{Markup, html};

use crate::services::Page;
use crate::services::setup_requests::SetupRequestView;
use crate::services::tenants::template_name;
use crate::urls::{AdminUrl, query_string};
use crate::views::components::{self, enum_name};
use crate::views::layout::{self, AdminChrome};

pub fn page(
    chrome: &AdminChrome<'_>,
    requests: &Page<SetupRequestView>,
    status: Option<SetupRequestStatus>,
) -> Markup {
    let status_value = status.map(|s| enum_name(&s)).unwrap_or_default();
    let base_query = query_string(&[("status", &status_value)]);
    layout::admin_page(
        "Setup requests",
        chrome,
        html! {
            div.page-header { h1 { "Setup requests" } }
            form.toolbar method="get" action=(AdminUrl::SetupRequests) {
                label.sr-only for="status" { "Status" }
                select #status name="status" {
                    option value="any" selected[status.is_none()] { "Any status" }
                    @for candidate in <SetupRequestStatus as sea_orm::Iterable>::iter() {
                        @let name = enum_name(&candidate);
                        option value=(name) selected[status == Some(candidate)] { (name) }
                    }
                }
                button.secondary type="submit" { "Filter" }
            }
            @if requests.items.is_empty() {
                (components::empty(
                    "No setup requests",
                    "When a tenant owner asks for a bot in the portal, the request waits here.",
                    None,
                ))
            } @else {
                // `stacked`: on a phone each request is a block, its decision
                // in full width at the bottom (app.css), not off-screen in a
                // table that scrolls sideways.
                div.table-wrap {
                    table.table.stacked.requests {
                        thead { tr {
                            th scope="col" { "Tenant" }
                            th scope="col" { "Business" }
                            th scope="col" { "Number" }
                            th scope="col" { "Template" }
                            th scope="col" { "Language" }
                            th scope="col" { "Submitted" }
                            th scope="col" { "Status" }
                            th scope="col" { "Decision" }
                        } }
                        tbody {
                            @for request in &requests.items { (row(chrome.csrf_token, request)) }
                        }
                    }
                }
                (components::pagination(
                    requests, &AdminUrl::SetupRequests.to_string(), &base_query))
            }
        },
    )
}

fn row(csrf_token: &str, request: &SetupRequestView) -> Markup {
    let approve_note = format!("approve-note-{}", request.id);
    let reject_note = format!("reject-note-{}", request.id);
    html! {
        tr {
            td {
                a href=(AdminUrl::Tenant(request.tenant_id)) {
                    (request.tenant_name.as_deref().unwrap_or("(unnamed tenant)"))
                }
                @if let Some(notes) = &request.notes { p.hint { (notes) } }
            }
            td { (request.business_name) p.hint { (request.timezone) } }
            td.nowrap data-label="Number" { (request.whatsapp_number) }
            td data-label="Template" { (template_name(request.template_type)) }
            td data-label="Language" { (request.language) }
            td.nowrap data-label="Submitted" { (components::datetime(&request.created_at)) }
            td { (components::badge(&enum_name(&request.status))) }
            td.r-decision {
                @if request.status == SetupRequestStatus::Submitted {
                    form.stack method="post"
                        action=(AdminUrl::SetupRequestDecision(request.id, "approve")) {
                        (components::csrf_input(csrf_token))
                        div.field {
                            label for=(approve_note) { "Note (optional)" }
                            input id=(approve_note) name="note" type="text";
                        }
                        button.primary.small type="submit" { "Approve" }
                    }
                    details.mt {
                        summary { "Reject…" }
                        form.stack method="post"
                            action=(AdminUrl::SetupRequestDecision(request.id, "reject")) {
                            (components::csrf_input(csrf_token))
                            div.field {
                                label for=(reject_note) { "Why? The tenant will read this." }
                                textarea id=(reject_note) name="note" rows="3" required {}
                            }
                            button.danger.small type="submit" { "Reject" }
                        }
                    }
                } @else {
                    @if let Some(note) = &request.review_note { p { (note) } }
                    p.hint {
                        @if let Some(reviewer) = &request.reviewed_by { "by " (reviewer) }
                        @if let Some(at) = &request.reviewed_at { " · " (components::datetime(at)) }
                    }
                }
            }
        }
    }
}
