//! `/admin/tenants/{id}/inbox` and `/admin/tenants/{id}/inbox/{conversation}`:
//! the shared inbox markup (`views::inbox`) in the console's shell, for one
//! tenant, under a line naming the tenant (and leading back to its page).

use maud::{Markup, html};

use crate::domain::ids::TenantId;
use crate::services::inbox::Thread;
use crate::urls::{AdminUrl, InboxUrls};
use crate::views::components::Zone;
use crate::views::inbox::{self, ListView};
use crate::views::layout::{self, AdminChrome};

/// The tenant whose inbox an admin looks at.
pub struct InboxTenant<'a> {
    pub id: TenantId,
    pub name: &'a str,
}

fn tenant_line(tenant: &InboxTenant<'_>) -> Markup {
    html! {
        p.muted.inbox-tenant {
            "Inbox of "
            a href=(AdminUrl::Tenant(tenant.id).to_string()) { (tenant.name) }
            ". Replies you send here go to the customer from the business's number, signed with your admin name."
        }
    }
}

pub fn list_page(
    chrome: &AdminChrome<'_>,
    tenant: &InboxTenant<'_>,
    view: &ListView<'_>,
) -> Markup {
    layout::admin_page_with_scripts(
        &format!("Inbox · {}", tenant.name),
        chrome,
        &crate::views::assets::inbox_scripts(),
        html! {
            (tenant_line(tenant))
            (inbox::list(view))
        },
    )
}

pub fn thread_page(
    chrome: &AdminChrome<'_>,
    tenant: &InboxTenant<'_>,
    thread: &Thread,
    zone: Zone,
    since: &str,
) -> Markup {
    layout::admin_page_with_scripts(
        &format!("{} · {}", inbox::thread_title(thread), tenant.name),
        chrome,
        &crate::views::assets::inbox_scripts(),
        html! {
            (tenant_line(tenant))
            (inbox::thread(InboxUrls::Admin(tenant.id), chrome.csrf_token, thread, zone, since))
        },
    )
}
