use maud::{Markup, html};

use super::layout;

pub fn page() -> Markup {
    layout::page(
        "Welcome",
        html! {
            section.card.hero {
                h1 { "Flow HQ" }
                p.lead {
                    "WhatsApp bots for small businesses — booking, e-commerce and support — "
                    "in their language, inside their business hours."
                }
                p { a.button.primary href="/admin" { "Open the admin console" } }
                p.muted { "Health: " a href="/healthz" { "/healthz" } " · readiness: " a href="/readyz" { "/readyz" } }
            }
        },
    )
}
