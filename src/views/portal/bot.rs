//! `/portal/bot` (the owner's): what the bot knows (`views::knowledge`) in
//! the portal's shell, its script reading and writing `/api/portal`.

use maud::Markup;

use crate::urls::BotUrls;
use crate::views::knowledge;
use crate::views::layout::{self, PortalChrome};

/// `ai_available`: the platform has an AI model configured (`[ai]`).
pub fn page(chrome: &PortalChrome<'_>, ai_available: bool) -> Markup {
    layout::portal_page_with_scripts(
        "Bot",
        chrome,
        &crate::views::assets::bot_scripts(),
        knowledge::content(BotUrls::Portal, ai_available),
    )
}
