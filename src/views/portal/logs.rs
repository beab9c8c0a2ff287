//! `/portal/logs`: the tenant's messages, newest first, a page at a time.

use maud::{Markup, html};

use crate::services::Page;
use crate::services::messages::MessageView;
use crate::views::components;
use crate::views::layout::{self, PortalChrome};
use crate::web::urls::PortalUrl;

pub fn page(chrome: &PortalChrome<'_>, messages: &Page<MessageView>) -> Markup {
    layout::portal_page(
        "Logs",
        chrome,
        html! {
            div.page-header { h1 { "Message log" } }
            @if messages.items.is_empty() {
                (components::empty(
                    "No messages yet",
                    "What your customers write and what the bot answers shows up here.",
                    None,
                ))
            } @else {
                (components::messages_table(&messages.items))
                (components::pagination(messages, &PortalUrl::Logs.to_string(), ""))
            }
        },
    )
}
