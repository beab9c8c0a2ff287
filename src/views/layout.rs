//! The page shells: a public one (sign-in, errors) and the admin console's,
//! with its navigation and sign-out form.

use maud::{DOCTYPE, Markup, html};

use super::{assets, components};
use crate::services::sessions::Flash;
use crate::web::urls::AdminUrl;

pub fn page(title: &str, content: Markup) -> Markup {
    shell(title, html! {}, &[], content)
}

/// `scripts`: URLs of scripts the page loads (deferred); most pages have none.
fn shell(title: &str, nav: Markup, scripts: &[String], content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Flow HQ" }
                link rel="stylesheet" href=(assets::css_url());
                @for script in scripts {
                    script src=(script) defer {}
                }
            }
            body {
                header.topbar {
                    a.brand href="/" { span.brand-mark { "◆" } " Flow HQ" }
                    (nav)
                }
                main.container { (content) }
            }
        }
    }
}

/// Which section of the console a page belongs to (highlighted in the nav).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Tenants,
    SetupRequests,
    Audit,
    Tokens,
}

/// What every admin page knows about its viewer.
pub struct AdminChrome<'a> {
    pub username: &'a str,
    pub csrf_token: &'a str,
    pub flash: Option<&'a Flash>,
    pub section: Section,
}

pub fn admin_page(title: &str, chrome: &AdminChrome<'_>, content: Markup) -> Markup {
    admin_page_with_scripts(title, chrome, &[], content)
}

/// An admin page that loads scripts (progressive enhancement only: every
/// page works without them).
pub fn admin_page_with_scripts(
    title: &str,
    chrome: &AdminChrome<'_>,
    scripts: &[String],
    content: Markup,
) -> Markup {
    let links = [
        (Section::Dashboard, AdminUrl::Dashboard, "Dashboard"),
        (Section::Tenants, AdminUrl::Tenants, "Tenants"),
        (
            Section::SetupRequests,
            AdminUrl::SetupRequests,
            "Setup requests",
        ),
        (Section::Audit, AdminUrl::Audit, "Audit"),
        (Section::Tokens, AdminUrl::Tokens, "API tokens"),
    ];
    let nav = html! {
        nav.mainnav aria-label="Admin" {
            @for (section, url, label) in links {
                a href=(url) class=[(section == chrome.section).then_some("active")]
                    aria-current=[(section == chrome.section).then_some("page")] { (label) }
            }
            form.inline method="post" action=(AdminUrl::Logout) {
                (components::csrf_input(chrome.csrf_token))
                button.link type="submit" title=(format!("Signed in as {}", chrome.username)) {
                    "Sign out " span.muted { "(" (chrome.username) ")" }
                }
            }
        }
    };
    shell(
        title,
        nav,
        scripts,
        html! {
            (components::flash(chrome.flash))
            (content)
        },
    )
}
