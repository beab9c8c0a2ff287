//! `/portal/team` (the owner's): the members with their roles, the pending
//! invitations with their expiry, the invite form and — once, in the
//! answer to the invite form — the new invitation's link to copy; and
//! `/portal/join/{token}`, what an invited person sees before signing in.
//! Must not: keep or log an invitation link; it is only in that one page.

use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::team::{CreatedInvitation, InvitationPreview, Team};
use crate::urls::PortalUrl;
use crate::views::components::{self, Field};
use crate::views::layout::{self, PortalChrome};

/// Everything the team page shows.
pub struct TeamPage<'a> {
    pub team: &'a Team,
    /// The invite form's email as typed, and its error.
    pub email: &'a str,
    pub errors: &'a FieldErrors,
    /// An invitation just made, with its link: shown this once.
    pub created: Option<&'a CreatedInvitation>,
}

pub fn page(chrome: &PortalChrome<'_>, page: &TeamPage<'_>) -> Markup {
    layout::portal_page(
        "Team",
        chrome,
        html! {
            div.page-header { h1 { "Team" } }
            @if let Some(created) = page.created {
                section.card role="status" {
                    h2 { "Invitation for " (created.invitation.email) " created" }
                    p { strong { "Copy this link now and send it to them; it will not be shown again." } }
                    pre.code { code #invitation-link { (created.link) } }
                    p.muted {
                        "They open it and sign in with Google as " (created.invitation.email)
                        ". The link works once, until "
                        (components::datetime(&created.invitation.expires_at)) "."
                    }
                }
            }
            section.card {
                h2 { "Invite a teammate" }
                p.muted {
                    "Teammates work the inbox: they read and answer your customers, take a chat over and hand it back. "
                    "They cannot change the connection, the settings or the team."
                }
                @if let Some(seats) = page.team.seats {
                    p #team-seats {
                        "Your plan has room for " strong { (seats) } " people, you included; "
                        (page.team.members.len() + page.team.invitations.len())
                        " taken by members and pending invitations."
                    }
                }
                form.stack method="post" action=(PortalUrl::TeamInvite) {
                    (components::csrf_input(chrome.csrf_token))
                    (Field {
                        name: "email",
                        label: "Email",
                        value: page.email,
                        hint: Some("The address of their Google account"),
                        errors: page.errors,
                    }.input("email", true))
                    button.primary type="submit" { "Invite" }
                }
            }
            section.card {
                h2 { "Members" }
                div.table-wrap {
                    table.table {
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Email" }
                            th scope="col" { "Role" }
                            th scope="col" { "Last sign-in" }
                            th scope="col" { span.sr-only { "Actions" } }
                        } }
                        tbody {
                            @for member in &page.team.members {
                                tr {
                                    td { (member.name) }
                                    td { (member.email) }
                                    td { (components::badge(&components::enum_name(&member.role))) }
                                    td.nowrap {
                                        @match &member.last_login_at {
                                            Some(at) => (components::datetime(at)),
                                            None => span.muted { "never" },
                                        }
                                    }
                                    td.right {
                                        @if member.role == entity::enums::UserRole::Staff {
                                            (components::action_button(
                                                &PortalUrl::TeamRemoveMember(member.id).to_string(),
                                                chrome.csrf_token, "Remove", "danger small"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Pending invitations" }
                @if page.team.invitations.is_empty() {
                    p.muted { "None." }
                } @else {
                    div.table-wrap {
                        table.table {
                            thead { tr {
                                th scope="col" { "Email" }
                                th scope="col" { "Invited" }
                                th scope="col" { "Expires" }
                                th scope="col" { span.sr-only { "Actions" } }
                            } }
                            tbody {
                                @for invitation in &page.team.invitations {
                                    tr {
                                        td { (invitation.email) }
                                        td.nowrap { (components::datetime(&invitation.created_at)) }
                                        td.nowrap { (components::datetime(&invitation.expires_at)) }
                                        td.right {
                                            (components::action_button(
                                                &PortalUrl::TeamRevokeInvitation(invitation.id).to_string(),
                                                chrome.csrf_token, "Revoke", "danger small"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The invitation link's page: whose team, for which address, and the
/// way in (Google sign-in with that address).
pub fn join(preview: &InvitationPreview) -> Markup {
    layout::page(
        "Invitation",
        html! {
            section.card {
                h1 { "Join " (preview.business) " on Flow HQ" }
                p {
                    "You were invited to answer " (preview.business) "'s customers in its inbox. "
                    "Sign in with the Google account of " strong { (preview.email) } " to accept."
                }
                p.muted { "The invitation works once, until " (components::datetime(&preview.expires_at)) "." }
                p { a.button.primary href=(PortalUrl::SignIn) { "Sign in with Google" } }
            }
        },
    )
}
