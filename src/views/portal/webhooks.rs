//! `/portal/webhooks` (the owner's): the shared webhook markup
//! (`views::webhooks`) in the portal's shell, for the session's tenant.

use maud::Markup;

use crate::urls::WebhookUrls;
use crate::views::layout::{self, PortalChrome};
use crate::views::webhooks::{self, EndpointPage, ListPage};

pub fn list(chrome: &PortalChrome<'_>, page: &ListPage<'_>) -> Markup {
    layout::portal_page(
        "Webhooks",
        chrome,
        webhooks::list(WebhookUrls::Portal, chrome.csrf_token, page),
    )
}

pub fn show(chrome: &PortalChrome<'_>, page: &EndpointPage<'_>) -> Markup {
    layout::portal_page(
        "Webhook",
        chrome,
        webhooks::show(WebhookUrls::Portal, chrome.csrf_token, page),
    )
}
