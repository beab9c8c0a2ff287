//! The public start page: what Flow HQ is, the way in for tenant owners
//! (Google sign-in) and for the platform's admins.

use maud::{Markup, html};

use super::{components, layout};
use crate::services::sessions::Flash;
use crate::urls::{AdminUrl, PortalUrl};

/// What the start page needs to know.
pub struct Home {
    /// Whether Google sign-in is configured (else owners cannot sign in yet).
    pub google: bool,
    /// Just signed out of the portal.
    pub signed_out: bool,
}

pub fn page(home: &Home) -> Markup {
    let notice = home.signed_out.then(|| Flash::info("You are signed out."));
    layout::page(
        "Welcome",
        html! {
            (components::flash(notice.as_ref()))
            section.card.hero {
                h1 { "Flow HQ" }
                p.lead {
                    "WhatsApp bots for small businesses — booking, e-commerce and support — "
                    "in their language, inside their business hours."
                }
            }
            div.two-col {
                section.card #owners {
                    h2 { "Tenant owners: sign in with Google" }
                    p {
                        "Set up your business's WhatsApp bot, link your number, follow its "
                        "messages and change what it says."
                    }
                    @if home.google {
                        p { a.button.primary href=(PortalUrl::SignIn) { "Sign in with Google" } }
                    } @else {
                        p.callout #sign-in-unavailable {
                            "Tenant sign-in is not set up yet on this server. "
                            "Ask the platform's administrator."
                        }
                    }
                }
                section.card #admins {
                    h2 { "Platform admins" }
                    p { "Review setup requests, run the bots and look after every tenant." }
                    p { a.button.secondary href=(AdminUrl::Dashboard) { "Open the admin console" } }
                }
            }
            p.muted { "Health: " a href="/healthz" { "/healthz" } " · readiness: " a href="/readyz" { "/readyz" } }
        },
    )
}
