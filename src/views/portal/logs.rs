//! `/portal/logs`: the tenant's messages, newest first, a page at a time,
//! in the owner's words and the tenant's time zone.

use maud::{Markup, html};

use crate::services::Page;
use crate::services::messages::MessageView;
use crate::urls::PortalUrl;
use crate::views::components::{self, LogReader, Zone};
use crate::views::layout::{self, PortalChrome};

/// `zone`: the tenant's time zone, which the log's times are in.
pub fn page(chrome: &PortalChrome<'_>, messages: &Page<MessageView>, zone: Zone) -> Markup {
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
                (zone.note())
                (components::messages_table(&messages.items, LogReader::Owner(zone)))
                (components::pagination(messages, &PortalUrl::Logs.to_string(), ""))
            }
        },
    )
}
