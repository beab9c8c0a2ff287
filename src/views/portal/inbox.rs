//! `/portal/inbox` and `/portal/inbox/{conversation}`: the shared inbox
//! markup (`views::inbox`) in the portal's shell, for the session's tenant.

use maud::Markup;

use crate::services::inbox::Thread;
use crate::urls::InboxUrls;
use crate::views::components::Zone;
use crate::views::inbox::{self, ListView};
use crate::views::layout::{self, PortalChrome};

pub fn list_page(chrome: &PortalChrome<'_>, view: &ListView<'_>) -> Markup {
    layout::portal_page_with_scripts(
        "Inbox",
        chrome,
        &crate::views::assets::inbox_scripts(),
        inbox::list(view),
    )
}

pub fn thread_page(chrome: &PortalChrome<'_>, thread: &Thread, zone: Zone, since: &str) -> Markup {
    layout::portal_page_with_scripts(
        inbox::thread_title(thread),
        chrome,
        &crate::views::assets::inbox_scripts(),
        inbox::thread(InboxUrls::Portal, chrome.csrf_token, thread, zone, since),
    )
}
