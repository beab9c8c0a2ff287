//! The page shells: a public one (sign-in, errors), the admin console's and
//! the tenant portal's, each with its navigation and sign-out form.

use maud::{DOCTYPE, Markup, html};

use super::{assets, components};
use crate::services::sessions::Flash;
use crate::urls::{AdminUrl, PortalUrl};

pub fn page(title: &str, content: Markup) -> Markup {
    shell(title, html! {}, &[], content)
}

/// The brand mark (a white diamond on the accent colour) as an inline SVG:
/// no request for `/favicon.ico`, no route to serve it.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E\
%3Crect width='32' height='32' rx='8' fill='%23128c7e'/%3E\
%3Cpath d='M16 7l9 9-9 9-9-9z' fill='%23fff'/%3E%3C/svg%3E";

/// `scripts`: URLs of scripts the page loads (deferred); most pages have none.
fn shell(title: &str, nav: Markup, scripts: &[String], content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Flow HQ" }
                link rel="icon" type="image/svg+xml" href=(FAVICON);
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
    Plans,
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
        (Section::Plans, AdminUrl::Plans, "Plans"),
        (Section::Audit, AdminUrl::Audit, "Audit"),
        (Section::Tokens, AdminUrl::Tokens, "API tokens"),
    ];
    let links =
        links.map(|(section, url, label)| (section == chrome.section, url.to_string(), label));
    signed_in_shell(
        title,
        &SignedInNav {
            label: "Admin",
            links: &links,
            sign_out: AdminUrl::Logout.to_string(),
            who: chrome.username,
            csrf_token: chrome.csrf_token,
        },
        chrome.flash,
        scripts,
        content,
    )
}

/// The navigation of a signed-in page: its links (`true` marks the
/// current one) and the sign-out form naming who is signed in.
struct SignedInNav<'a> {
    label: &'a str,
    links: &'a [(bool, String, &'a str)],
    sign_out: String,
    who: &'a str,
    csrf_token: &'a str,
}

fn signed_in_shell(
    title: &str,
    nav: &SignedInNav<'_>,
    flash: Option<&Flash>,
    scripts: &[String],
    content: Markup,
) -> Markup {
    let nav = html! {
        nav.mainnav aria-label=(nav.label) {
            @for (current, url, label) in nav.links {
                a href=(url) class=[current.then_some("active")]
                    aria-current=[current.then_some("page")] { (label) }
            }
            form.inline method="post" action=(nav.sign_out) {
                (components::csrf_input(nav.csrf_token))
                button.link type="submit" title=(format!("Signed in as {}", nav.who)) {
                    "Sign out " span.muted { "(" (nav.who) ")" }
                }
            }
        }
    };
    shell(
        title,
        nav,
        scripts,
        html! {
            (components::flash(flash))
            (content)
        },
    )
}

/// Which part of the portal a page belongs to (highlighted in the nav;
/// onboarding has no entry of its own).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PortalSection {
    Onboarding,
    Status,
    Inbox,
    Logs,
    Settings,
    Team,
    Bot,
    Webhooks,
    ApiKeys,
    Usage,
}

/// What every portal page knows about its viewer.
pub struct PortalChrome<'a> {
    pub email: &'a str,
    pub csrf_token: &'a str,
    pub flash: Option<&'a Flash>,
    pub section: PortalSection,
    /// STAFF (`false`) see only the inbox in the navigation.
    pub owner: bool,
}

pub fn portal_page(title: &str, chrome: &PortalChrome<'_>, content: Markup) -> Markup {
    portal_page_with_scripts(title, chrome, &[], content)
}

/// A portal page that loads scripts (progressive enhancement only: every
/// page works without them).
pub fn portal_page_with_scripts(
    title: &str,
    chrome: &PortalChrome<'_>,
    scripts: &[String],
    content: Markup,
) -> Markup {
    let links = [
        (PortalSection::Status, PortalUrl::Status, "Status"),
        (PortalSection::Inbox, PortalUrl::Inbox, "Inbox"),
        (PortalSection::Bot, PortalUrl::Bot, "Bot"),
        (PortalSection::Logs, PortalUrl::Logs, "Logs"),
        (PortalSection::Settings, PortalUrl::Settings, "Settings"),
        (PortalSection::Team, PortalUrl::Team, "Team"),
        (PortalSection::Webhooks, PortalUrl::Webhooks, "Webhooks"),
        (PortalSection::Usage, PortalUrl::Usage, "Usage"),
        (PortalSection::ApiKeys, PortalUrl::ApiKeys, "API keys"),
    ];
    let links: Vec<_> = links
        .into_iter()
        .filter(|(section, _, _)| chrome.owner || *section == PortalSection::Inbox)
        .map(|(section, url, label)| (section == chrome.section, url.to_string(), label))
        .collect();
    signed_in_shell(
        title,
        &SignedInNav {
            label: "Portal",
            links: &links,
            sign_out: PortalUrl::SignOut.to_string(),
            who: chrome.email,
            csrf_token: chrome.csrf_token,
        },
        chrome.flash,
        scripts,
        content,
    )
}
