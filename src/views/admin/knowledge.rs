//! `/admin/tenants/{id}/bot`: what one tenant's bot knows, the portal's
//! "Bot" page (`views::knowledge`, the same markup and script) in the
//! console's shell, under a line naming the tenant (and leading back to
//! its page). Its script reads and writes `/api/admin/tenants/{id}`.

use maud::{Markup, html};

use crate::domain::ids::TenantId;
use crate::urls::{AdminUrl, BotUrls};
use crate::views::knowledge;
use crate::views::layout::{self, AdminChrome};

/// `ai_available`: the platform has an AI model configured (`[ai]`).
pub fn page(chrome: &AdminChrome<'_>, id: TenantId, name: &str, ai_available: bool) -> Markup {
    layout::admin_page_with_scripts(
        &format!("Bot · {name}"),
        chrome,
        &crate::views::assets::bot_scripts(),
        html! {
            p.muted #bot-tenant {
                "Bot of "
                a href=(AdminUrl::Tenant(id)) { (name) }
                ". What you save here reaches the tenant's bot at once and is recorded in the audit trail as yours."
            }
            (knowledge::content(BotUrls::Admin(id), ai_available))
        },
    )
}
