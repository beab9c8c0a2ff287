//! `/admin/tenants/{id}/webhooks…`: the shared webhook markup
//! (`views::webhooks`) in the console's shell, for one tenant, under a line
//! naming the tenant (and leading back to its page).

use maud::{Markup, html};

use crate::domain::ids::TenantId;
use crate::urls::{AdminUrl, WebhookUrls};
use crate::views::layout::{self, AdminChrome};
use crate::views::webhooks::{self, EndpointPage, ListPage};

fn tenant_line(id: TenantId, name: &str) -> Markup {
    html! {
        p.muted #webhooks-tenant {
            "Webhooks of "
            a href=(AdminUrl::Tenant(id)) { (name) }
            ". What you change here is recorded in the audit trail as yours."
        }
    }
}

pub fn list(chrome: &AdminChrome<'_>, id: TenantId, name: &str, page: &ListPage<'_>) -> Markup {
    layout::admin_page(
        &format!("Webhooks · {name}"),
        chrome,
        html! {
            (tenant_line(id, name))
            (webhooks::list(WebhookUrls::Admin(id), chrome.csrf_token, page))
        },
    )
}

pub fn show(chrome: &AdminChrome<'_>, id: TenantId, name: &str, page: &EndpointPage<'_>) -> Markup {
    layout::admin_page(
        &format!("Webhook · {name}"),
        chrome,
        html! {
            (tenant_line(id, name))
            (webhooks::show(WebhookUrls::Admin(id), chrome.csrf_token, page))
        },
    )
}
